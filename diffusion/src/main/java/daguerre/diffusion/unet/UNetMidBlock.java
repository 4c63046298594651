package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;
import daguerre.diffusion.nn.Transformer2DModel;

/**
 * diffusers' {@code UNetMidBlock2DCrossAttn} at the lowest resolution: resnets.0 ->
 * attentions.0 (Transformer2DModel) -> resnets.1.
 */
public final class UNetMidBlock extends Module {

    private final ResnetBlock2D resnet0;
    private final Transformer2DModel attention;
    private final ResnetBlock2D resnet1;

    public UNetMidBlock(UNetConfig config) {
        int channels = config.blockOutChannels().get(config.levels() - 1);
        this.resnet0 = child("resnets.0", new ResnetBlock2D(
                channels, channels, config.timeEmbeddingDim(), config.normNumGroups(), config.normEps()));
        this.attention = child("attentions.0", new Transformer2DModel(channels, config.midHeads(),
                config.crossAttentionDim(), config.normNumGroups(), config.useLinearProjection(),
                config.midTransformerLayers()));
        this.resnet1 = child("resnets.1", new ResnetBlock2D(
                channels, channels, config.timeEmbeddingDim(), config.normNumGroups(), config.normEps()));
    }

    /** x [B, C, h, w], temb [B, E], context [B, T, D] -> [B, C, h, w]; records {@code attentions.0}. */
    public NDArray forward(NDArray x, NDArray temb, NDArray context, Capture capture) {
        NDArray h = resnet0.forward(x, temb);
        h = Capture.record(capture, "attentions.0",
                attention.forward(h, context, Capture.child(capture, "attentions.0")));
        return resnet1.forward(h, temb);
    }
}
