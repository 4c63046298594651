package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * A named weight slot of a {@link Module}: its expected shape and, once loaded or initialised, its
 * value. Values live in the model's {@code NDManager}, never in a request's.
 */
public final class Parameter {

    private final Shape shape;
    private NDArray value;

    Parameter(Shape shape) {
        this.shape = shape;
    }

    public Shape shape() {
        return shape;
    }

    /** The current value; fails if the parameter was never loaded or initialised. */
    public NDArray value() {
        if (value == null) {
            throw new IllegalStateException("parameter of shape " + shape + " has no value: load or initialise the model first");
        }
        return value;
    }

    public boolean isSet() {
        return value != null;
    }

    /** Replaces the value (closing the old one); the shape must match exactly. */
    public void set(NDArray newValue) {
        if (!newValue.getShape().equals(shape)) {
            throw new IllegalArgumentException("shape " + newValue.getShape() + " does not match the parameter's " + shape);
        }
        if (value != null && value != newValue) {
            value.close();
        }
        value = newValue;
    }
}
