package daguerre.diffusion.nn;

import java.util.EnumSet;

/**
 * For tests that must cover both paths of every block: switches the fused kernels on or off for
 * the duration of a try-with-resources block, and back on (the default) when it closes.
 */
public final class FusedKernels implements AutoCloseable {

    private FusedKernels() {}

    /** All fused kernels when {@code fused}, else none (the plain DJL paths). */
    public static FusedKernels only(boolean fused) {
        FusedOps.enableOnly(fused ? EnumSet.allOf(FusedOps.Kernel.class) : EnumSet.noneOf(FusedOps.Kernel.class));
        return new FusedKernels();
    }

    @Override
    public void close() {
        FusedOps.enableOnly(EnumSet.allOf(FusedOps.Kernel.class));
    }
}
