package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Layer normalisation over the last dimension, as torch.nn.LayerNorm; keys {@code weight}, {@code bias} [dim]. */
public final class LayerNorm extends Module {

    private final Parameter weight;
    private final Parameter bias;
    private final Shape normalized;
    private final float eps;

    public LayerNorm(int dim, float eps) {
        this.weight = parameter("weight", new Shape(dim));
        this.bias = parameter("bias", new Shape(dim));
        this.normalized = new Shape(dim);
        this.eps = eps;
    }

    /** [..., dim] -> [..., dim] */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, normalized, weight.value(), bias.value(), eps).singletonOrThrow();
    }
}
