package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** Element-wise activations used by the diffusion networks; results live in the input's manager. */
public final class Activations {

    private Activations() {}

    /** SiLU (swish with beta 1): x * sigmoid(x). */
    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** GELU with the exact erf form, as torch.nn.functional.gelu's default. */
    public static NDArray gelu(NDArray x) {
        return Activation.gelu(x);
    }
}
