package daguerre.weights;

import daguerre.weights.safetensors.DType;
import java.io.IOException;
import java.util.Set;

/**
 * Named float tensors as a model loader sees them: a safetensors file, or a renamed view of one
 * (an original single-file checkpoint seen under the canonical diffusers/transformers keys).
 */
public interface TensorSource {

    /** All tensor names, in a stable order. */
    Set<String> names();

    /** The shape of {@code name}. */
    long[] shape(String name) throws IOException;

    /**
     * The element type {@code name} is stored in (F32, F16, BF16, ...): {@link #floats} widens it,
     * and a loader may keep 16-bit weights in 16 bits. Sources that cannot tell say F32.
     */
    default DType dtype(String name) throws IOException {
        return DType.F32;
    }

    /** The values of {@code name} widened to float32, row-major. */
    float[] floats(String name) throws IOException;

    /** Where the tensors come from, for error messages (a file path, or a file path and a prefix). */
    String description();
}
