package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;

/**
 * The residual block of diffusers' {@code ResnetBlock2D} (time_embedding_norm "default", output
 * scale 1): h = conv1(silu(norm1(x))) [+ time_emb_proj(silu(temb)) per channel];
 * h = conv2(silu(norm2(h))); out = shortcut(x) + h. Keys {@code norm1}, {@code conv1},
 * {@code time_emb_proj} (only with a time embedding), {@code norm2}, {@code conv2},
 * {@code conv_shortcut} (1x1, only when the channel count changes). Dropout sits before conv2: no weights.
 */
public final class ResnetBlock2D extends Module {

    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;

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

    /** f(temporary), closing the temporary. */
    private static NDArray closing(NDArray temporary, java.util.function.UnaryOperator<NDArray> f) {
        try (temporary) {
            return f.apply(temporary);
        }
    }
}
