package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

/**
 * The transformer feed-forward of diffusers' {@code FeedForward} with GEGLU activation:
 * net.0 = {@link Geglu} (dim -> inner), net.2 = Linear (inner -> dim); inner = mult * dim.
 * {@code net.1} is Dropout: no weights.
 */
public final class FeedForward extends Module {

    private final Geglu gate;
    private final Linear out;

    /** A feed-forward with inner width {@code mult * dim} (4 in Stable Diffusion). */
    public FeedForward(int dim, int mult) {
        int inner = mult * dim;
        this.gate = child("net.0", new Geglu(dim, inner));
        // net.1 is Dropout: no weights
        this.out = child("net.2", new Linear(inner, dim, true));
    }

    /**
     * Longest run of positions fed through at once. The feed-forward acts on each position alone,
     * so a long sequence goes through in chunks of this many positions and the results are
     * concatenated: the 2 x inner-wide projection then exists for one chunk at a time (SD 1.5 at
     * 512 px: 21 MB instead of 84 MB at the 4,096 positions of level 0; SDXL at 1024 px: 42 MB
     * instead of 168 MB), as diffusers' {@code enable_forward_chunking} does.
     */
    public static final int CHUNK_POSITIONS = 1024;

    /** [B, T, dim] -> [B, T, dim] (any [..., dim] with fewer than three axes goes through whole). */
    public NDArray forward(NDArray x) {
        long positions = x.getShape().dimension() == 3 ? x.getShape().get(1) : 0;
        if (positions <= CHUNK_POSITIONS) {
            return forwardWhole(x);
        }
        return Scopes.scoped(() -> {
            NDList outputs = new NDList();
            for (long start = 0; start < positions; start += CHUNK_POSITIONS) {
                long end = Math.min(positions, start + CHUNK_POSITIONS);
                outputs.add(forwardWhole(x.get(":, {}:{}, :", start, end)));   // [B, t, dim]
            }
            return NDArrays.concat(outputs, 1);                                 // [B, T, dim]
        }, x);
    }

    /** The feed-forward on all positions of {@code x} at once: [..., dim] -> [..., dim]. */
    NDArray forwardWhole(NDArray x) {
        return Scopes.scoped(() -> out.forward(gate.forward(x)), x);
    }
}
