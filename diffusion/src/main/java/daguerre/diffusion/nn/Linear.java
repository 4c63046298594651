package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/** y = x W^T + b, as torch.nn.Linear; keys {@code weight} [out, in] and optional {@code bias} [out]. */
public final class Linear extends Module {

    private final Parameter weight;
    private final Parameter bias;

    public Linear(int in, int out, boolean withBias) {
        weight = parameter("weight", new Shape(out, in));
        bias = withBias ? parameter("bias", new Shape(out)) : null;
    }

    /**
     * [..., in] -> [..., out], by oneDNN ({@link FusedOps#linear}); while training, or with the
     * kernel off, by {@link #forwardUnfused} (see {@link Kernels}); with bfloat16 products
     * ({@link Kernels#currentProducts()}) by {@link FusedOps#linearBf16} or its reference. Within
     * {@link LowRankBranches#during} the branches it names for this layer run beside it.
     */
    public NDArray forward(NDArray x) {
        return forward(x, LowRankBranches.of(weight));
    }

    private NDArray forwardBare(NDArray x) {
        if (Kernels.currentProducts() == ComputePrecision.FLOAT32 && !Kernels.fuse(FusedOps.Kernel.LINEAR)) {
            return forwardUnfused(x);
        }
        return product(x, weight.value(), bias == null ? null : bias.value());
    }

    /**
     * x W^T + b in the pass's product type ({@link Kernels#currentProducts()}): oneDNN's float32
     * multiply, or its bfloat16 one (or, with {@link FusedOps.Kernel#BF16_PRODUCTS} off, that one's
     * float32 reference).
     */
    static NDArray product(NDArray x, NDArray weight, NDArray bias) {
        if (Kernels.currentProducts() == ComputePrecision.BFLOAT16) {
            return Kernels.fuse(FusedOps.Kernel.BF16_PRODUCTS)
                    ? FusedOps.linearBf16(x, weight, bias)
                    : FusedOps.linearBf16Reference(x, weight, bias);
        }
        return FusedOps.linear(x, weight, bias);
    }

    /**
     * {@link #forward(NDArray)} plus low-rank branches run beside the weight, per batch row:
     * y = x W^T + b + sum_j s_j[row] * (x down_j^T) up_j^T; x [B, ..., in] -> [B, ..., out].
     */
    public NDArray forward(NDArray x, List<LowRankBranch> branches) {
        if (branches.isEmpty()) {
            return forwardBare(x);
        }
        return Scopes.scoped(() -> {
            NDArray y = forwardBare(x);
            for (LowRankBranch branch : branches) {
                NDArray low = FusedOps.linear(FusedOps.linear(x, branch.down(), null), branch.up(), null); // [B, ..., r] -> [B, ..., out]
                y = y.add(low.mul(branch.scalesFor(low)));
            }
            return y;
        }, x);
    }

    /** The same map by libtorch's {@code linear} (its BLAS): the reference for the fused path, and the training path. */
    public NDArray forwardUnfused(NDArray x) {
        NDArray w = weight.float32(x);
        try {
            return ai.djl.nn.core.Linear.linear(x, w, bias == null ? null : bias.value()).singletonOrThrow();
        } finally {
            weight.closeIfCopy(w);
        }
    }
}
