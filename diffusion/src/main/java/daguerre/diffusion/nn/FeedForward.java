package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;

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

    /** [..., dim] -> [..., dim] */
    public NDArray forward(NDArray x) {
        return Scopes.scoped(() -> out.forward(gate.forward(x)), x);
    }
}
