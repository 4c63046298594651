package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** Element-wise activations used by the diffusion networks; results live in the input's manager. */
public final class Activations {

    private Activations() {}

    /**
     * SiLU (swish with beta 1): x * sigmoid(x), in one pass by libtorch's {@code silu}
     * ({@link FusedOps}); while gradients are recorded (a {@code GradientCollector} is open), by
     * {@link #siluUnfused}, since DJL runs TorchScript methods with autograd off.
     */
    public static NDArray silu(NDArray x) {
        return !Kernels.fuse(FusedOps.Kernel.SILU) ? siluUnfused(x) : FusedOps.silu(x);
    }

    /** SiLU from plain DJL ops (two passes and a temporary): the reference and the training path. */
    public static NDArray siluUnfused(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** GELU with the exact erf form, as torch.nn.functional.gelu's default. */
    public static NDArray gelu(NDArray x) {
        return Activation.gelu(x);
    }
}
