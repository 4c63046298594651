package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * GEGLU gated unit (Shazeer 2020): proj(x) = [h, g] split in halves on the last axis, output
 * h * gelu(g). Key {@code proj} (Linear dim -> 2 * inner).
 */
public final class Geglu extends Module {

    private final Linear proj;

    public Geglu(int dim, int inner) {
        this.proj = child("proj", new Linear(dim, 2 * inner, true));
    }

    /** [..., dim] -> [..., inner] */
    public NDArray forward(NDArray x) {
        return Scopes.scoped(() -> {
            NDArray projected = proj.forward(x);
            NDList halves = projected.split(2, projected.getShape().dimension() - 1);
            return halves.get(0).mul(Activations.gelu(halves.get(1)));
        }, x);
    }
}
