package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/** Replays recorded noise tensors in order, failing on a shape mismatch or when they run out. */
public final class RecordedNoise implements NoiseSource {

    private record Tensor(String name, float[] values, Shape shape) {}

    private final List<Tensor> tensors = new ArrayList<>();
    private int next;

    public RecordedNoise add(String name, float[] values, Shape shape) {
        tensors.add(new Tensor(name, values, shape));
        return this;
    }

    @Override
    public NDArray next(Shape shape, NDManager manager) {
        if (next >= tensors.size()) {
            throw new IllegalStateException("recorded noise exhausted after " + tensors.size() + " tensors");
        }
        Tensor tensor = tensors.get(next++);
        if (!tensor.shape().equals(shape)) {
            throw new IllegalStateException("noise " + tensor.name() + " has shape " + tensor.shape()
                    + " but " + shape + " was requested");
        }
        return manager.create(tensor.values(), shape);
    }

    /** How many tensors were drawn. */
    public int drawn() {
        return next;
    }

    /** How many tensors were recorded. */
    public int recorded() {
        return tensors.size();
    }
}
