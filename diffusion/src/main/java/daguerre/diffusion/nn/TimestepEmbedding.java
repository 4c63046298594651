package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;

/** diffusers' {@code TimestepEmbedding}: linear_2(silu(linear_1(x))). Keys {@code linear_1}, {@code linear_2}. */
public final class TimestepEmbedding extends Module {

    private final Linear linear1;
    private final Linear linear2;

    public TimestepEmbedding(int in, int dim) {
        this.linear1 = child("linear_1", new Linear(in, dim, true));
        // the SiLU between them has no weights
        this.linear2 = child("linear_2", new Linear(dim, dim, true));
    }

    /** [B, in] -> [B, dim] */
    public NDArray forward(NDArray x) {
        return Scopes.scoped(() -> linear2.forward(Activations.silu(linear1.forward(x))), x);
    }
}
