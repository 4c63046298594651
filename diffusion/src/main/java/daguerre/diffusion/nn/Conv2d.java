package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/** 2-D convolution as torch.nn.Conv2d (square kernel, symmetric zero padding); keys {@code weight} [out, in, k, k], {@code bias} [out]. */
public final class Conv2d extends Module {

    /**
     * Output maps of at most this many positions (8 x 8) are computed as im2col + matrix multiply:
     * there oneDNN's direct convolution reaches 45-150 GFLOP/s on the 2-core machine and the
     * unfolded GEMM 120-280 (SD 1.5's 1,280-2,560-channel convolutions at 4 x 4 and 8 x 8); on larger
     * maps the direct convolution is faster (390-490).
     */
    static final int GEMM_MAX_POSITIONS = 64;

    private final Parameter weight;
    private final Parameter bias;
    private final int kernel;
    private final int stride;
    private final int padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        this.weight = parameter("weight", new Shape(out, in, kernel, kernel));
        this.bias = parameter("bias", new Shape(out));
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
    }

    /**
     * [B, in, H, W] -> [B, out, H', W'] with H' = (H + 2 padding - kernel) / stride + 1: by
     * {@link #forwardUnfolded} on small output maps unless the weights are being trained, else by
     * libtorch's convolution; with bfloat16 products ({@link Kernels#currentProducts()}) by
     * {@link FusedOps#conv2dBf16} or its reference (small maps: im2col and the bf16 matrix multiply,
     * 1.0-1.4 times as fast as the direct bf16 convolution on SD 1.5's 8 x 8 and 4 x 4 maps,
     * {@code Bf16ProductsProbe}). Within {@link LowRankBranches#during} the branches it names for
     * this layer run beside it.
     */
    public NDArray forward(NDArray x) {
        return forward(x, LowRankBranches.of(weight));
    }

    private NDArray forwardBare(NDArray x) {
        Cancellation.check();
        long positions = outputSize(x.getShape().get(2)) * outputSize(x.getShape().get(3));
        if (kernel > 1 && positions <= GEMM_MAX_POSITIONS && Kernels.fuse(FusedOps.Kernel.SMALL_CONV_GEMM)) {
            return forwardUnfolded(x);
        }
        if (Kernels.currentProducts() == ComputePrecision.BFLOAT16) {
            return Kernels.fuse(FusedOps.Kernel.BF16_PRODUCTS)
                    ? FusedOps.conv2dBf16(x, weight.value(), bias.value(), stride, padding)
                    : FusedOps.conv2dBf16Reference(x, weight.value(), bias.value(), stride, padding);
        }
        return forwardDirect(x);
    }

    /**
     * {@link #forward(NDArray)} plus low-rank branches run beside the kernel, per batch row (LoCon):
     * y = conv(x, W) + b + sum_j s_j[row] * conv1x1(conv(x, down_j), up_j), down_j with this
     * layer's kernel, stride and padding; [B, in, H, W] -> [B, out, H', W'].
     */
    public NDArray forward(NDArray x, List<LowRankBranch> branches) {
        if (branches.isEmpty()) {
            return forwardBare(x);
        }
        return Scopes.scoped(() -> {
            NDArray y = forwardBare(x);
            for (LowRankBranch branch : branches) {
                long rank = branch.down().getShape().get(0);
                NDArray noBias = x.getManager().zeros(new Shape(rank));
                NDArray noUpBias = x.getManager().zeros(new Shape(branch.up().getShape().get(0)));
                NDArray low = FusedOps.conv2d(x, branch.down(), noBias, stride, padding);    // [B, r, H', W']
                low = FusedOps.conv2d(low, branch.up(), noUpBias, 1, 0);                     // [B, out, H', W']
                y = y.add(low.mul(branch.scalesFor(low)));
            }
            return y;
        }, x);
    }

    /**
     * libtorch's convolution (oneDNN): the reference, and the path for large maps and training; a
     * 16-bit kernel is widened inside the call ({@link FusedOps#conv2d}).
     */
    public NDArray forwardDirect(NDArray x) {
        if (weight.dataType() != DataType.FLOAT32) {
            return FusedOps.conv2d(x, weight.value(), bias.value(), stride, padding);
        }
        return ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.value(), bias.value(), new Shape(stride, stride),
                new Shape(padding, padding), new Shape(1, 1)).singletonOrThrow();
    }

    /**
     * The same convolution as one matrix multiply: im2col gathers every kernel window into a
     * column, [B, in k k, H' W'], and out = W [out, in k k] x columns + b (the matrix multiply in the
     * pass's product type, {@link Linear#product}).
     */
    public NDArray forwardUnfolded(NDArray x) {
        Shape shape = x.getShape();
        long height = outputSize(shape.get(2));
        long width = outputSize(shape.get(3));
        return Scopes.scoped(() -> {
            NDArray columns = FusedOps.im2col(x, kernel, padding, stride).transpose(0, 2, 1); // [B, H' W', in k k]
            // [out, in, k, k] -> [out, in k k]: DJL puts the result of an op in its first operand's
            // manager, here the weights'; moved into this call's scope so that it is closed with it
            NDArray matrix = weight.value().reshape(weight.value().getShape().get(0), -1);
            matrix.attach(x.getManager());
            NDArray out = Linear.product(columns, matrix, bias.value());                       // [B, H' W', out]
            return out.transpose(0, 2, 1).reshape(shape.get(0), -1, height, width);
        }, x);
    }

    private long outputSize(long in) {
        return (in + 2L * padding - kernel) / stride + 1;
    }
}
