package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * The residual block of diffusers' {@code ResnetBlock2D} (time_embedding_norm "default", output
 * scale 1): h = conv1(silu(norm1(x))) [+ time_emb_proj(silu(temb)) per channel];
 * h = conv2(silu(norm2(h))); out = shortcut(x) + h. Keys {@code norm1}, {@code conv1},
 * {@code time_emb_proj} (only with a time embedding), {@code norm2}, {@code conv2},
 * {@code conv_shortcut} (1x1, only when the channel count changes). Dropout sits before conv2: no weights.
 */
public final class ResnetBlock2D extends Module {

    /** The band size of {@link #forwardBanded}: one band of input rows takes about this many bytes (64 MiB). */
    public static final long BAND_BYTES = 64L << 20;

    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;
    private final int outChannels;

    /**
     * @param in input channels
     * @param out output channels
     * @param timeEmbeddingDim width of the time embedding, or 0 for none (the VAE)
     * @param groups GroupNorm groups
     * @param eps GroupNorm epsilon
     */
    public ResnetBlock2D(int in, int out, int timeEmbeddingDim, int groups, float eps) {
        this.norm1 = child("norm1", new GroupNorm(groups, in, eps));
        this.conv1 = child("conv1", new Conv2d(in, out, 3, 1, 1));
        this.timeEmbProj = timeEmbeddingDim > 0 ? child("time_emb_proj", new Linear(timeEmbeddingDim, out, true)) : null;
        this.norm2 = child("norm2", new GroupNorm(groups, out, eps));
        this.conv2 = child("conv2", new Conv2d(out, out, 3, 1, 1));
        this.convShortcut = in != out ? child("conv_shortcut", new Conv2d(in, out, 1, 1, 0)) : null;
        this.outChannels = out;
    }

    /** x [B, in, H, W], temb [B, timeEmbeddingDim] (null without a time embedding) -> [B, out, H, W]. */
    public NDArray forward(NDArray x, NDArray temb) {
        if ((temb == null) != (timeEmbProj == null)) {
            throw new IllegalArgumentException(timeEmbProj == null
                    ? "this ResnetBlock2D has no time_emb_proj but got a time embedding"
                    : "this ResnetBlock2D needs a time embedding");
        }
        // Temporaries are closed as soon as they are used (autograd keeps what it needs), so the
        // block's peak is about three activations besides its input.
        return Scopes.scoped(() -> {
            NDArray h = closing(norm1.forwardSilu(x), conv1::forward);
            if (temb != null) {
                // [B, out] -> [B, out, 1, 1], added at every position
                NDArray t = timeEmbProj.forward(Activations.silu(temb));
                h = closing(h, conv -> conv.add(t.expandDims(2).expandDims(3)));
            }
            h = closing(closing(h, norm2::forwardSilu), conv2::forward);
            NDArray shortcut = convShortcut == null ? x : convShortcut.forward(x);
            return closing(h, shortcut::add);
        }, x, temb);
    }

    /**
     * {@link #forward}(x, null) for a caller that is done with x (the VAE decoder): x is closed
     * before this returns, and with a 1x1 shortcut its memory takes norm1's output once the shortcut
     * is computed, so the block holds x, the shortcut and conv1's output at most (at 512 px in the
     * last decoder level: 256 + 128 + 128 MiB, against 256 + 256 + 128). norm2 overwrites conv1's
     * output, which nothing reads again.
     */
    public NDArray forwardConsuming(NDArray x) {
        if (timeEmbProj != null) {
            throw new IllegalArgumentException("this ResnetBlock2D needs a time embedding");
        }
        if (convShortcut == null) {
            try (x) {
                return forward(x, null);
            }
        }
        // every temporary is closed explicitly (x mid-block), so no Scopes.scoped here
        NDArray shortcut = convShortcut.forward(x);
        NDArray h;
        try (x) {
            h = closing(norm1.forwardSiluOverwriting(x), conv1::forward);
        }
        h = closing(closing(h, norm2::forwardSiluOverwriting), conv2::forward);
        try (shortcut) {
            return closing(h, shortcut::add);
        }
    }

    /**
     * {@link #forwardConsuming} for large maps (the VAE decoder's last level), a band
     * of rows at a time, so that only x and conv1's output exist whole:
     * <ol>
     *   <li>a = conv1(silu(norm1(x))): norm1's scale and shift from the statistics of the whole of x
     *       ({@link GroupNorm#affine}), then per band of output rows the normalised input rows it
     *       needs, convolved;</li>
     *   <li>out = shortcut(x) + conv2(silu(norm2(a))), per band likewise, written over x's own memory
     *       ({@link FusedOps#channelsLastPrefix}: with fewer output channels than input ones, into its
     *       start, below the rows still to be read).</li>
     * </ol>
     * Output rows [r0, r1) of a 3x3 convolution with padding 1 need input rows r0 - 1 to r1; a band
     * convolves those (zero padding only at the map's own edges) and keeps its rows r0 to r1, so each
     * band equals the whole map's rows. In SD's VAE decoder at 1024 px the first block of the last
     * level then holds x (1 GiB) and a (0.5 GiB) besides one band's temporaries, against x, the
     * shortcut and conv1's output (2 GiB) in {@link #forwardConsuming}. Inference only: x is consumed
     * (its handle closed) and the result lives in x's memory (in a channels-last copy of x if x is not
     * channels-last).
     *
     * @param x [B, in, H, W]
     * @return [B, out, H, W], channels-last
     */
    public NDArray forwardBanded(NDArray x) {
        Shape shape = x.getShape();
        return forwardBanded(x, Math.max(1, BAND_BYTES / (shape.get(1) * shape.get(3) * Float.BYTES)));
    }

    /** {@link #forwardBanded(NDArray)} with bands of {@code bandRows} output rows. */
    NDArray forwardBanded(NDArray x, long bandRows) {
        if (timeEmbProj != null) {
            throw new IllegalArgumentException("this ResnetBlock2D needs a time embedding");
        }
        Shape shape = x.getShape();
        NDArray out;
        try (NDArray own = x; NDArray in = FusedOps.channelsLast(own)) {   // x itself when it is channels-last already
            NDArray a = FusedOps.emptyChannelsLast(in.getManager(), shape.get(0), outChannels, shape.get(2), shape.get(3));
            try (NDArray affine = norm1.affine(in)) {
                convolveInBands(in, norm1, affine, conv1, bandRows, (item, r0, band) -> FusedOps.writeRows(a, item, r0, band));
            }
            out = FusedOps.channelsLastPrefix(in, outChannels);
            try (a; NDArray affine = norm2.affine(a)) {
                convolveInBands(a, norm2, affine, conv2, bandRows, (item, r0, band) -> {
                    try (NDArray input = in.get(rows(item, r0, r0 + band.getShape().get(2)));
                         NDArray shortcut = convShortcut == null ? null : convShortcut.forward(input)) {
                        FusedOps.writeSumRows(out, item, r0, shortcut == null ? input : shortcut, band);
                    }
                });
            }
        }
        return out;
    }

    /** What {@link #convolveInBands} does with each band of output rows, [item, :, r0:r0 + h] of the map. */
    private interface BandSink {
        void accept(long item, long r0, NDArray band);
    }

    /** [item, :, r0:r1] of a [B, C, H, W] map, batch axis kept. */
    private static NDIndex rows(long item, long r0, long r1) {
        return new NDIndex("{}:{}, :, {}:{}", item, item + 1, r0, r1);
    }

    /**
     * conv(silu(norm(source))) band by band: for each batch item and each band of {@code bandRows}
     * output rows [r0, r1), the normalised source rows r0 - 1 to r1 (within the map) are convolved
     * and output rows r0 to r1 handed to {@code sink}.
     */
    private static void convolveInBands(NDArray source, GroupNorm norm, NDArray affine, Conv2d conv, long bandRows, BandSink sink) {
        long batch = source.getShape().get(0);
        long height = source.getShape().get(2);
        for (long item = 0; item < batch; item++) {
            for (long r0 = 0; r0 < height; r0 += bandRows) {
                long r1 = Math.min(r0 + bandRows, height);
                long i0 = Math.max(r0 - 1, 0);
                long i1 = Math.min(r1 + 1, height);
                try (NDArray input = source.get(rows(item, i0, i1));
                     NDArray normed = norm.forwardSiluBand(input, affine, item);
                     NDArray convolved = conv.forward(normed);
                     NDArray kept = convolved.get(new NDIndex(":, :, {}:{}", r0 - i0, r1 - i0))) {
                    sink.accept(item, r0, kept);
                }
            }
        }
    }

    /** f(temporary), closing the temporary. */
    private static NDArray closing(NDArray temporary, java.util.function.UnaryOperator<NDArray> f) {
        try (temporary) {
            return f.apply(temporary);
        }
    }
}
