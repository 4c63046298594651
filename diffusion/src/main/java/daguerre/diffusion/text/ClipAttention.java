package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Linear;
import daguerre.diffusion.nn.Module;

/**
 * Multi-head self-attention of a CLIP text layer (transformers {@code CLIPAttention}):
 * softmax(Q K^T * head_dim^-0.5 + mask) V per head, then {@code out_proj}.
 * "Attention Is All You Need", Vaswani et al. 2017, eq. (1).
 */
final class ClipAttention extends Module {

    private final Linear qProj;
    private final Linear kProj;
    private final Linear vProj;
    private final Linear outProj;
    private final int heads;
    private final int headDim;
    private final float scale;
    // attention dropout is 0 for CLIP: no weights, nothing to apply

    ClipAttention(ClipTextConfig config) {
        int dim = config.hiddenSize();
        this.qProj = child("q_proj", new Linear(dim, dim, true));
        this.kProj = child("k_proj", new Linear(dim, dim, true));
        this.vProj = child("v_proj", new Linear(dim, dim, true));
        this.outProj = child("out_proj", new Linear(dim, dim, true));
        this.heads = config.numAttentionHeads();
        this.headDim = config.headDim();
        this.scale = (float) Math.pow(headDim, -0.5);
    }

    /**
     * @param x [B, L, D]
     * @param mask additive [L, L] (0 where allowed, -inf where masked), broadcast over batch and heads
     * @return [B, L, D]
     */
    NDArray forward(NDArray x, NDArray mask) {
        Shape shape = x.getShape();
        long batch = shape.get(0);
        long length = shape.get(1);
        NDArray q = splitHeads(qProj.forward(x).mul(scale), batch, length);  // [B, H, L, hd], scaled as transformers does
        NDArray k = splitHeads(kProj.forward(x), batch, length);              // [B, H, L, hd]
        NDArray v = splitHeads(vProj.forward(x), batch, length);              // [B, H, L, hd]
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).add(mask);         // [B, H, L, L]
        NDArray context = scores.softmax(-1).matMul(v);                        // [B, H, L, hd]
        NDArray merged = context.transpose(0, 2, 1, 3).reshape(batch, length, (long) heads * headDim);  // [B, L, D]
        return outProj.forward(merged);
    }

    /** [B, L, D] -> [B, H, L, hd] */
    private NDArray splitHeads(NDArray x, long batch, long length) {
        return x.reshape(batch, length, heads, headDim).transpose(0, 2, 1, 3);
    }
}
