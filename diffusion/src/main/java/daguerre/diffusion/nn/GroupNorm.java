package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Group normalisation, as torch.nn.GroupNorm with affine weights (Wu and He 2018): channels are
 * split into {@code groups} groups, each normalised over its channels and all spatial positions,
 * then scaled and shifted per channel. Keys {@code weight}, {@code bias} [channels].
 */
public final class GroupNorm extends Module {

    private final Parameter weight;
    private final Parameter bias;
    private final int groups;
    private final int channels;
    private final float eps;

    public GroupNorm(int groups, int channels, float eps) {
        if (groups <= 0 || channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: " + channels + " channels do not split into " + groups + " groups");
        }
        this.weight = parameter("weight", new Shape(channels));
        this.bias = parameter("bias", new Shape(channels));
        this.groups = groups;
        this.channels = channels;
        this.eps = eps;
    }

    /**
     * [B, C, ...] -> [B, C, ...], by libtorch's fused {@code group_norm} ({@link FusedOps}); while
     * the weights are being trained, by {@link #forwardUnfused}, since DJL runs TorchScript methods
     * with autograd off.
     */
    public NDArray forward(NDArray x) {
        checkInput(x);
        if (!Kernels.fuse(FusedOps.Kernel.GROUP_NORM)) {
            return forwardUnfused(x);
        }
        return FusedOps.groupNorm(x, groups, weight.value(), bias.value(), eps);
    }

    /**
     * SiLU(GroupNorm(x)), as every ResNet block and output head uses it: fused into one output
     * tensor (the SiLU runs in place on the normalised values) unless the weights are being trained.
     */
    public NDArray forwardSilu(NDArray x) {
        checkInput(x);
        if (!Kernels.fuse(FusedOps.Kernel.GROUP_NORM) || !Kernels.fuse(FusedOps.Kernel.SILU)) {
            return Scopes.scoped(() -> Activations.silu(forward(x)), x);
        }
        return FusedOps.groupNormSilu(x, groups, weight.value(), bias.value(), eps);
    }

    /**
     * {@link #forwardSilu} for a caller that is done with x (inference): with the fused kernels, the
     * result overwrites x's memory (one activation fewer at the peak); x must not be read again, and
     * the caller closes x as usual. Otherwise the same as {@link #forwardSilu}.
     *
     * @param x [B, C, H, W]
     */
    public NDArray forwardSiluOverwriting(NDArray x) {
        checkInput(x);
        if (x.getShape().dimension() != 4 || !Kernels.fuse(FusedOps.Kernel.GROUP_NORM) || !Kernels.fuse(FusedOps.Kernel.SILU)
                || !Kernels.fuse(FusedOps.Kernel.IN_PLACE_NORM)) {
            return forwardSilu(x);
        }
        return FusedOps.groupNormSiluInPlace(x, groups, weight.value(), bias.value(), eps);
    }

    /**
     * The statistics half of {@link #forwardSilu} for a map normalised a band of rows at a time
     * (inference): the per-channel scale and shift that this norm applies to x, [2, B, C]
     * ({@link FusedOps#groupNormAffine}), for {@link #forwardSiluBand}.
     *
     * @param x [B, C, H, W]
     */
    public NDArray affine(NDArray x) {
        checkInput(x);
        return FusedOps.groupNormAffine(x, groups, weight.value(), bias.value(), eps);
    }

    /**
     * Rows of {@link #forwardSilu}(x) for batch item {@code item}: SiLU(rows * scale + shift) with
     * the scale and shift {@link #affine}(x) gave, as a new tensor.
     *
     * @param rows [1, C, h, W], a band of rows of x's item {@code item}
     */
    public NDArray forwardSiluBand(NDArray rows, NDArray affine, long item) {
        checkInput(rows);
        return FusedOps.affineSilu(rows, affine, item);
    }

    private void checkInput(NDArray x) {
        Shape shape = x.getShape();
        if (shape.dimension() < 2 || shape.get(1) != channels) {
            throw new IllegalArgumentException("GroupNorm over " + channels + " channels got input " + shape);
        }
    }

    /** The same normalisation from plain DJL ops: the reference for the fused path, and the training path. */
    public NDArray forwardUnfused(NDArray x) {
        checkInput(x);
        Shape shape = x.getShape();
        return Scopes.scoped(() -> {
            NDManager manager = x.getManager();
            // [B, C, H, W] -> [B, G, C/G*H*W]: each group's values lie contiguous in the last axis
            NDArray grouped = x.reshape(shape.get(0), groups, -1);
            Shape normalized = new Shape(grouped.getShape().get(2));
            // layer norm over the last axis = per-group normalisation; unit scale, zero shift here
            NDArray normed = ai.djl.nn.norm.LayerNorm.layerNorm(
                    grouped, normalized, manager.ones(normalized), manager.zeros(normalized), eps).singletonOrThrow();
            // per-channel affine y = normed * weight[c] + bias[c] in one pass: inference-mode batch
            // norm along axis 1 with running mean 0, running variance 1 and epsilon 0 computes
            // exactly (normed - 0) / sqrt(1 + 0) * weight + bias
            Shape perChannel = new Shape(channels);
            return ai.djl.nn.norm.BatchNorm.batchNorm(normed.reshape(shape), manager.zeros(perChannel), manager.ones(perChannel),
                    weight.value(), bias.value(), 1, 0f, 0f, false).singletonOrThrow();
        }, x);
    }
}
