package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.weights.safetensors.HalfFloats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;

/**
 * A named weight slot of a {@link Module}: its expected shape and, once loaded or initialised, its
 * value. Values live in the model's {@code NDManager}, never in a request's. A value is float32, or
 * float16 / bfloat16 when the model keeps its weights in 16 bits ({@link WeightPrecision}); the
 * blocks that read weights widen 16-bit ones as they use them.
 */
public final class Parameter {

    private final Shape shape;
    private NDArray value;
    // kept here: DJL 0.35.1 reports a bfloat16 array's type as UNKNOWN
    private DataType dataType;

    Parameter(Shape shape) {
        this.shape = shape;
    }

    public Shape shape() {
        return shape;
    }

    /** The current value, in the type it is kept in; fails if the parameter was never loaded or initialised. */
    public NDArray value() {
        if (value == null) {
            throw new IllegalStateException("parameter of shape " + shape + " has no value: load or initialise the model first");
        }
        return value;
    }

    public boolean isSet() {
        return value != null;
    }

    /** The type the value is kept in (float32, float16 or bfloat16). */
    public DataType dataType() {
        value();
        return dataType;
    }

    /** Bytes the value takes in memory. */
    public long byteSize() {
        return shape.size() * dataType().getNumOfBytes();
    }

    /** Replaces the value (closing the old one); the shape must match exactly. */
    public void set(NDArray newValue) {
        replace(newValue, newValue.getDataType());
    }

    private void replace(NDArray newValue, DataType type) {
        if (!newValue.getShape().equals(shape)) {
            throw new IllegalArgumentException("shape " + newValue.getShape() + " does not match the parameter's " + shape);
        }
        if (value != null && value != newValue) {
            value.close();
        }
        value = newValue;
        dataType = type;
    }

    /**
     * Sets the value to {@code values} (row-major, float32) in {@code manager}, kept in
     * {@code storage}. A float16 value is rounded here (to nearest even) straight into the buffer
     * the array keeps, so that loading never allocates and frees a float32 copy of each weight;
     * bfloat16 goes through such a copy ({@link #create}).
     */
    public void set(float[] values, NDManager manager, DataType storage) {
        replace(create(values, manager, storage), storage);
    }

    /**
     * Puts {@code float32} (this parameter's shape) in place of the value, converted to the type the
     * value is kept in (rounded to nearest even) and moved into the value's manager, and hands back
     * the previous value <em>unclosed</em>: the caller owns it and puts it back, bit for bit, with
     * {@link #restore} (a LoRA merge does this). A float32 argument becomes the value itself: the
     * caller must not close it.
     */
    public NDArray exchange(NDArray float32) {
        NDArray previous = value();
        if (!float32.getShape().equals(shape) || float32.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(float32.getDataType() + " " + float32.getShape()
                    + " is not a float32 value of the parameter's shape " + shape);
        }
        NDArray next = dataType == DataType.FLOAT32 ? float32 : FusedOps.convert(float32, dataType);
        next.attach(previous.getManager());
        value = next;
        return previous;
    }

    /** Puts back a value that {@link #exchange} handed out, closing the one in its place. */
    public void restore(NDArray previous) {
        replace(previous, dataType());
    }

    private NDArray create(float[] values, NDManager manager, DataType storage) {
        if (values.length != shape.size()) {
            throw new IllegalArgumentException(values.length + " values do not fill the parameter's shape " + shape);
        }
        if (storage == DataType.FLOAT32) {
            return manager.create(values, shape);
        }
        if (storage == DataType.BFLOAT16) {
            // DJL 0.35.1 aborts the JVM creating a bfloat16 array from a buffer: libtorch converts a float32 copy
            try (NDArray float32 = manager.create(values, shape)) {
                return FusedOps.convert(float32, storage);
            }
        }
        if (storage != DataType.FLOAT16) {
            throw new IllegalArgumentException("weights are kept in float32, float16 or bfloat16, not " + storage);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(values.length * 2).order(ByteOrder.nativeOrder());
        ShortBuffer bits = buffer.asShortBuffer();
        for (float v : values) {
            bits.put(HalfFloats.floatToF16(v));
        }
        return manager.create(buffer, shape, storage);
    }

    /**
     * The value in float32, for the reference paths that need it so: the value itself, or a widened
     * copy in {@code like}'s manager, which the caller closes ({@link #closeIfCopy}).
     */
    public NDArray float32(NDArray like) {
        if (dataType() == DataType.FLOAT32) {
            return value;
        }
        NDArray wide = FusedOps.convert(value, DataType.FLOAT32);
        wide.attach(like.getManager());
        return wide;
    }

    /** Closes an array that {@link #float32} returned, unless it is the value itself. */
    public void closeIfCopy(NDArray float32) {
        if (float32 != value) {
            float32.close();
        }
    }

    /** The values widened to float32, row-major (for writing a checkpoint, or a test). */
    public float[] floats() {
        if (dataType() == DataType.FLOAT32) {
            return value.toFloatArray();
        }
        try (NDArray wide = FusedOps.convert(value, DataType.FLOAT32)) {
            return wide.toFloatArray();
        }
    }
}
