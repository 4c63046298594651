package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers' {@code Downsample2D} with a convolution: 3x3, stride 2. With {@code padding} 1 (the
 * U-Net) the convolution pads one pixel on every side; with {@code padding} 0 (the VAE encoder)
 * the input is first padded by one zero column on the right and one zero row at the bottom, and
 * the convolution itself does not pad. Key {@code conv}.
 */
public final class Downsample2D extends Module {

    private final Conv2d conv;
    private final int padding;

    public Downsample2D(int channels, int padding) {
        if (padding != 0 && padding != 1) {
            throw new IllegalArgumentException("Downsample2D padding must be 0 or 1, got " + padding);
        }
        this.conv = child("conv", new Conv2d(channels, channels, 3, 2, padding));
        this.padding = padding;
    }

    /** [B, C, H, W] -> [B, C, ceil(H/2), ceil(W/2)] (U-Net) or [B, C, floor(H/2), floor(W/2)] (VAE, even sizes equal) */
    public NDArray forward(NDArray x) {
        if (padding == 1) {
            return conv.forward(x);
        }
        return Scopes.scoped(() -> conv.forward(x.pad(new Shape(0, 1, 0, 1), 0)), x);
    }
}
