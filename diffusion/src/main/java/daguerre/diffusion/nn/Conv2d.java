package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** 2-D convolution as torch.nn.Conv2d (square kernel, symmetric zero padding); keys {@code weight} [out, in, k, k], {@code bias} [out]. */
public final class Conv2d extends Module {

    private final Parameter weight;
    private final Parameter bias;
    private final Shape stride;
    private final Shape padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        this.weight = parameter("weight", new Shape(out, in, kernel, kernel));
        this.bias = parameter("bias", new Shape(out));
        this.stride = new Shape(stride, stride);
        this.padding = new Shape(padding, padding);
    }

    /** [B, in, H, W] -> [B, out, H', W'] */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.value(), bias.value(), stride, padding, new Shape(1, 1))
                .singletonOrThrow();
    }
}
