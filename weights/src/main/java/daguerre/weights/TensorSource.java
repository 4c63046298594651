package daguerre.weights;

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

    /** The values of {@code name} widened to float32, row-major. */
    float[] floats(String name) throws IOException;

    /** Where the tensors come from, for error messages (a file path, or a file path and a prefix). */
    String description();
}
