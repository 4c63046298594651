package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers' {@code Upsample2D} with a convolution: nearest-neighbour upsampling, then a 3x3 conv
 * (padding 1). Key {@code conv}.
 */
public final class Upsample2D extends Module {

    /** The band size of {@link #forwardBanded}: the doubled rows of one band take about this many bytes (32 MiB). */
    public static final long BAND_BYTES = 32L << 20;

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
     * {@link #forward(NDArray)} for large maps: conv(nearest x2 (x)) computed in bands of output rows,
     * each written into the output as it is done, so that the doubled map [B, C, 2H, 2W] (256 MiB in
     * SD's VAE decoder at 512 px) never exists whole: at most one band of it (about 32 MiB,
     * {@link #BAND_BYTES}) besides x and the output. Output rows [r0, r1) need doubled rows
     * r0 - 1 to r1 (the 3x3 window), which are input rows floor((r0 - 1) / 2) to floor(r1 / 2); a
     * band convolves the doubled rows of those input rows with padding 1 and keeps its rows r0 to
     * r1, so each band's result equals the whole map's rows (zero padding only at the map's own
     * edges). Inference only; the values match {@link #forward(NDArray)}'s.
     *
     * @param x [B, C, H, W]
     * @param channelsLast whether to lay the output out channels-last (as the VAE decoder's activations are)
     * @return [B, C, 2H, 2W]
     */
    public NDArray forwardBanded(NDArray x, boolean channelsLast) {
        Shape shape = x.getShape();
        return forwardBanded(x, channelsLast, Math.max(2, BAND_BYTES / (shape.get(0) * shape.get(1) * 2 * shape.get(3) * Float.BYTES)));
    }

    /** {@link #forwardBanded(NDArray, boolean)} with bands of {@code bandRows} output rows. */
    NDArray forwardBanded(NDArray x, boolean channelsLast, long bandRows) {
        long batch = x.getShape().get(0);
        long channels = x.getShape().get(1);
        long height = x.getShape().get(2);
        long width = x.getShape().get(3);
        long outHeight = 2 * height;
        NDArray out = channelsLast
                ? FusedOps.emptyChannelsLast(x.getManager(), batch, channels, outHeight, 2 * width)
                : x.getManager().create(new Shape(batch, channels, outHeight, 2 * width), DataType.FLOAT32);
        for (long r0 = 0; r0 < outHeight; r0 += bandRows) {
            long r1 = Math.min(r0 + bandRows, outHeight);
            long i0 = Math.max((r0 - 1) / 2, 0);
            long i1 = Math.min(r1 / 2 + 1, height);
            try (NDArray rows = x.get(new NDIndex(":, :, {}:{}", i0, i1));
                 NDArray doubled = nearest(rows, 2 * (i1 - i0), 2 * width);
                 NDArray band = conv.forward(doubled);
                 NDArray kept = band.get(new NDIndex(":, :, {}:{}", r0 - 2 * i0, r1 - 2 * i0))) {
                out.set(new NDIndex(":, :, {}:{}", r0, r1), kept);
            }
        }
        return out;
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
