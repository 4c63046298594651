package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;

/**
 * diffusers' {@code UNetMidBlock2D} as the VAE uses it (no time embedding, GroupNorm eps 1e-6):
 * resnets.0 -> attentions.0 ({@link AttentionBlock}) -> resnets.1.
 */
public final class VaeMidBlock extends Module {

    private final ResnetBlock2D resnet0;
    private final AttentionBlock attention;
    private final ResnetBlock2D resnet1;

    public VaeMidBlock(int channels, int groups) {
        this.resnet0 = child("resnets.0", new ResnetBlock2D(channels, channels, 0, groups, AutoencoderKL.NORM_EPS));
        this.attention = child("attentions.0", new AttentionBlock(channels, groups));
        this.resnet1 = child("resnets.1", new ResnetBlock2D(channels, channels, 0, groups, AutoencoderKL.NORM_EPS));
    }

    /** [B, C, h, w] -> [B, C, h, w] */
    public NDArray forward(NDArray x) {
        return resnet1.forward(attention.forward(resnet0.forward(x, null)), null);
    }
}
