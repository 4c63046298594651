package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;

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

    /**
     * Largest number of attention scores (query x key values over all heads) computed at once:
     * 2^21 floats = 8 MiB, a chunk that stays in cache between the two products and the softmax.
     * On SD 1.x level-0 self-attention (4096 tokens, 8 heads, one image) NnBenchmark measured it
     * about 2x faster than one 512 MiB score matrix on a 2-core CPU, with far less memory.
     */
    public static final long SCORE_BUDGET = 1L << 21;

    /**
     * Largest number of attention scores one fused call covers: 2^28, 69 GFLOP at head dim 64
     * (well under a second on a 2-core CPU). Larger attentions (SD 1.x self-attention above 1024 px) are split by queries
     * into calls of this size, the same result (softmax is per query row), so that a cancelled job
     * stops between them ({@link Cancellation}). SD 1.x at 512 px (4096 tokens, 8 heads: 2^27) is
     * one call.
     */
    static final long FUSED_SCORE_BUDGET = 1L << 28;

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
        Cancellation.check();
        return Scopes.scoped(() -> {
            NDArray source = context == null ? x : context;
            NDArray attended = !Kernels.fuse(FusedOps.Kernel.ATTENTION)
                    ? attendUnfused(toQ.forward(x), toK.forward(source), toV.forward(source), heads)
                    : attend(toQ.forward(x), toK.forward(source), toV.forward(source), heads);
            return toOut.forward(attended);
        }, x, context);
    }

    /**
     * The attention core on projected inputs: q [B, N, C], k and v [B, T, C], C = heads * d ->
     * [B, N, C] = concat over heads of softmax(q_h k_h^T / sqrt(d)) v_h, computed by libtorch's
     * fused scaled-dot-product attention ({@link FusedOps#attention}); {@link #attendUnfused} is
     * the plain reference path the tests compare it with.
     *
     * <p>Training must use {@link #attendUnfused}: DJL runs TorchScript methods with autograd off
     * (inference mode), so the fused result carries no gradient and cannot be saved for backward.
     * Given the same inputs, the fused kernel's gradients (reached with autograd on) match the plain
     * path's to about 2e-6.
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, int heads) {
        return attendFused(q, k, v, heads, FUSED_SCORE_BUDGET);
    }

    /** {@link #attend} with a given score budget per fused call. */
    static NDArray attendFused(NDArray q, NDArray k, NDArray v, int heads, long scoreBudget) {
        long batch = q.getShape().get(0);
        long queries = q.getShape().get(1);
        long channels = q.getShape().get(2);
        long keys = k.getShape().get(1);
        NDArray qh = toHeads(q, heads);                                            // [B, heads, N, d]
        NDArray kh = toHeads(k, heads);
        NDArray vh = toHeads(v, heads);
        long rowsPerCall = Math.max(1, scoreBudget / (batch * heads * keys));
        NDArray out;
        if (queries <= rowsPerCall) {
            out = FusedOps.attention(qh, kh, vh);                                  // [B, heads, N, d]
        } else {
            NDList parts = new NDList();
            for (long start = 0; start < queries; start += rowsPerCall) {
                Cancellation.check();
                NDArray rows = qh.get(new NDIndex(":, :, {}:{}", start, Math.min(start + rowsPerCall, queries)));
                parts.add(Scopes.scoped(() -> FusedOps.attention(rows, kh, vh), rows));
            }
            out = NDArrays.concat(parts, 2);
        }
        return out.transpose(0, 2, 1, 3).reshape(batch, queries, channels);
    }

    /** [B, N, heads * d] -> [B, heads, N, d] */
    private static NDArray toHeads(NDArray x, int heads) {
        long batch = x.getShape().get(0);
        long tokens = x.getShape().get(1);
        return x.reshape(batch, tokens, heads, x.getShape().get(2) / heads).transpose(0, 2, 1, 3);
    }

    /**
     * The same attention from plain DJL ops, the reference for the fused path: heads folded into
     * the batch ([B * heads, N, d]) for batched matrix products, q scaled before the product, and
     * queries processed in chunks so that one chunk's score matrix holds at most
     * {@link #SCORE_BUDGET} values (softmax is per query row, so the result is the same).
     */
    public static NDArray attendUnfused(NDArray q, NDArray k, NDArray v, int heads) {
        return attend(q, k, v, heads, SCORE_BUDGET);
    }

    /** {@link #attendUnfused} with a given score budget per chunk. */
    static NDArray attend(NDArray q, NDArray k, NDArray v, int heads, long scoreBudget) {
        long batch = q.getShape().get(0);
        long queries = q.getShape().get(1);
        long channels = q.getShape().get(2);
        long keys = k.getShape().get(1);
        long headDim = channels / heads;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        NDArray qh = splitHeads(q.mul(scale), heads);                              // [B*heads, N, d]
        NDArray kt = heads == 1 ? k.transpose(0, 2, 1)                             // [B*heads, d, T]
                : k.reshape(batch, keys, heads, headDim).transpose(0, 2, 3, 1).reshape(batch * heads, headDim, keys);
        NDArray vh = splitHeads(v, heads);                                         // [B*heads, T, d]
        long rowsPerChunk = Math.max(1, scoreBudget / (batch * heads * keys));
        NDArray out;
        if (queries <= rowsPerChunk) {
            out = qh.batchMatMul(kt).softmax(2).batchMatMul(vh);                   // [B*heads, N, d]
        } else {
            NDList chunks = new NDList();
            for (long start = 0; start < queries; start += rowsPerChunk) {
                Cancellation.check();
                NDArray rows = qh.get(new NDIndex(":, {}:{}", start, Math.min(start + rowsPerChunk, queries)));
                chunks.add(Scopes.scoped(() -> rows.batchMatMul(kt).softmax(2).batchMatMul(vh), rows));
            }
            out = NDArrays.concat(chunks, 1);
        }
        if (heads == 1) {
            return out;
        }
        // [B*heads, N, d] -> [B, N, heads, d] -> [B, N, C]
        return out.reshape(batch, heads, queries, headDim).transpose(0, 2, 1, 3).reshape(batch, queries, channels);
    }

    /** [B, N, heads * d] -> [B * heads, N, d] */
    private static NDArray splitHeads(NDArray x, int heads) {
        if (heads == 1) {
            return x;
        }
        long batch = x.getShape().get(0);
        long tokens = x.getShape().get(1);
        long headDim = x.getShape().get(2) / heads;
        return x.reshape(batch, tokens, heads, headDim).transpose(0, 2, 1, 3).reshape(batch * heads, tokens, headDim);
    }
}
