package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;

/**
 * Multi-head scaled dot-product attention (Vaswani et al. 2017), as diffusers' {@code Attention}
 * with its classic processor: softmax(q k^T / sqrt(head_dim)) v per head. Self-attention when no
 * context is given, cross-attention (keys and values from the context) otherwise. Keys
 * {@code to_q}, {@code to_k}, {@code to_v} (bias only when {@code qkvBias}), {@code to_out.0}
 * (with bias). {@code to_out.1} is Dropout: no weights.
 *
 * <p>Scores and softmax run in float32, the dtype of every array here, so diffusers'
 * {@code upcast_attention} / {@code upcast_softmax} options need no separate code path.
 */
public final class Attention extends Module {

    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final int heads;

    /**
     * @param queryDim channels of the input (and of the output)
     * @param contextDim channels of the context (equal to {@code queryDim} for self-attention)
     * @param heads number of heads; the head dim is {@code queryDim / heads}
     * @param qkvBias whether to_q/to_k/to_v have a bias (false in the U-Net, true in the VAE)
     */
    public Attention(int queryDim, int contextDim, int heads, boolean qkvBias) {
        if (heads <= 0 || queryDim % heads != 0) {
            throw new IllegalArgumentException("Attention: " + queryDim + " channels do not split into " + heads + " heads");
        }
        this.toQ = child("to_q", new Linear(queryDim, queryDim, qkvBias));
        this.toK = child("to_k", new Linear(contextDim, queryDim, qkvBias));
        this.toV = child("to_v", new Linear(contextDim, queryDim, qkvBias));
        this.toOut = child("to_out.0", new Linear(queryDim, queryDim, true));
        // to_out.1 is Dropout: no weights
        this.heads = heads;
    }

    /** Self-attention: [B, N, C] -> [B, N, C]. */
    public NDArray forward(NDArray x) {
        return forward(x, null);
    }

    /** Cross-attention: x [B, N, C], context [B, T, D] (null for self-attention) -> [B, N, C]. */
    public NDArray forward(NDArray x, NDArray context) {
        return Scopes.scoped(() -> {
            NDArray source = context == null ? x : context;
            NDArray attended = attend(toQ.forward(x), toK.forward(source), toV.forward(source), heads);
            return toOut.forward(attended);
        }, x, context);
    }

    /**
     * The attention core on projected inputs: q [B, N, C], k and v [B, T, C], C = heads * d ->
     * [B, N, C] = concat over heads of softmax(q_h k_h^T / sqrt(d)) v_h.
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, int heads) {
        long batch = q.getShape().get(0);
        long queries = q.getShape().get(1);
        long channels = q.getShape().get(2);
        long keys = k.getShape().get(1);
        long headDim = channels / heads;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        // [B, N, C] -> [B, heads, N, d]
        NDArray qh = q.reshape(batch, queries, heads, headDim).transpose(0, 2, 1, 3);
        NDArray kh = k.reshape(batch, keys, heads, headDim).transpose(0, 2, 3, 1);   // [B, heads, d, T]
        NDArray vh = v.reshape(batch, keys, heads, headDim).transpose(0, 2, 1, 3);   // [B, heads, T, d]
        NDArray probabilities = qh.matMul(kh).mul(scale).softmax(-1);            // [B, heads, N, T]
        // [B, heads, N, d] -> [B, N, heads, d] -> [B, N, C]
        return probabilities.matMul(vh).transpose(0, 2, 1, 3).reshape(batch, queries, channels);
    }
}
