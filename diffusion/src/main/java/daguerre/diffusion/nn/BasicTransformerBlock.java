package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;

/**
 * diffusers' {@code BasicTransformerBlock} with pre-LayerNorm residuals:
 * x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)).
 * Keys {@code norm1}, {@code attn1} (self), {@code norm2}, {@code attn2} (cross), {@code norm3},
 * {@code ff}; LayerNorm epsilon 1e-5.
 */
public final class BasicTransformerBlock extends Module {

    private static final float LAYER_NORM_EPS = 1e-5f;

    private final LayerNorm norm1;
    private final Attention attn1;
    private final LayerNorm norm2;
    private final Attention attn2;
    private final LayerNorm norm3;
    private final FeedForward ff;

    /**
     * @param dim token channels
     * @param heads attention heads (head dim = dim / heads)
     * @param contextDim channels of the cross-attention context
     */
    public BasicTransformerBlock(int dim, int heads, int contextDim) {
        this.norm1 = child("norm1", new LayerNorm(dim, LAYER_NORM_EPS));
        this.attn1 = child("attn1", new Attention(dim, dim, heads, false));
        this.norm2 = child("norm2", new LayerNorm(dim, LAYER_NORM_EPS));
        this.attn2 = child("attn2", new Attention(dim, contextDim, heads, false));
        this.norm3 = child("norm3", new LayerNorm(dim, LAYER_NORM_EPS));
        this.ff = child("ff", new FeedForward(dim, 4));
    }

    /** x [B, N, dim], context [B, T, contextDim] -> [B, N, dim]; records attn1, attn2, ff outputs. */
    public NDArray forward(NDArray x, NDArray context, Capture capture) {
        return Scopes.scoped(() -> {
            NDArray h = x.add(Capture.record(capture, "attn1", attn1.forward(norm1.forward(x))));
            h = h.add(Capture.record(capture, "attn2", attn2.forward(norm2.forward(h), context)));
            return h.add(Capture.record(capture, "ff", ff.forward(norm3.forward(h))));
        }, x, context);
    }
}
