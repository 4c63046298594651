package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * diffusers' {@code Upsample2D} with a convolution: nearest-neighbour upsampling, then a 3x3 conv
 * (padding 1). Key {@code conv}.
 */
public final class Upsample2D extends Module {

    private final Conv2d conv;

    public Upsample2D(int channels) {
        this.conv = child("conv", new Conv2d(channels, channels, 3, 1, 1));
    }

    /** [B, C, H, W] -> [B, C, 2H, 2W] */
    public NDArray forward(NDArray x) {
        return forward(x, x.getShape().get(2) * 2, x.getShape().get(3) * 2);
    }

    /**
     * [B, C, H, W] -> [B, C, height, width]: nearest upsampling to an explicit size, as the U-Net
     * does when the latent size is not a multiple of its total downsampling factor (the size then
     * comes from the matching skip connection).
     */
    public NDArray forward(NDArray x, long height, long width) {
        return Scopes.scoped(() -> conv.forward(nearest(x, height, width)), x);
    }

    /**
     * Nearest-neighbour resize as torch's {@code interpolate(mode="nearest")}: output row o reads
     * input row min(floor(o * in/out), in - 1). By libtorch's {@code upsample_nearest2d}
     * ({@link FusedOps}, one pass); while gradients are recorded (a {@code GradientCollector} is
     * open), by {@link #nearestUnfused}, since DJL runs TorchScript methods with autograd off.
     */
    public static NDArray nearest(NDArray x, long height, long width) {
        return !Kernels.fuse(FusedOps.Kernel.UPSAMPLE) ? nearestUnfused(x, height, width) : FusedOps.upsampleNearest(x, height, width);
    }

    /**
     * The same resize from plain DJL ops, computed in float32 as torch does: the reference for the
     * fused path, and the training path. The exact doubling case is a plain repeat.
     */
    public static NDArray nearestUnfused(NDArray x, long height, long width) {
        long inHeight = x.getShape().get(2);
        long inWidth = x.getShape().get(3);
        if (height == 2 * inHeight && width == 2 * inWidth) {
            return x.repeat(2, 2).repeat(3, 2);
        }
        NDManager manager = x.getManager();
        // one-hot selection matrices: out = rows [height, H] @ x @ columns [W, width]
        NDArray rows = manager.create(selection(inHeight, height)).reshape(height, inHeight);
        NDArray columns = manager.create(selection(inWidth, width)).reshape(width, inWidth).transpose();
        return rows.matMul(x.matMul(columns));
    }

    private static float[] selection(long in, long out) {
        float[] matrix = new float[Math.toIntExact(in * out)];
        float scale = (float) in / out;
        for (int o = 0; o < out; o++) {
            long source = in == out ? o : Math.min((long) Math.floor(o * scale), in - 1);
            matrix[Math.toIntExact(o * in + source)] = 1f;
        }
        return matrix;
    }
}
