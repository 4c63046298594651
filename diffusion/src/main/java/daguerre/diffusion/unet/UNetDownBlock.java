package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Downsample2D;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;
import daguerre.diffusion.nn.Transformer2DModel;
import java.util.ArrayList;
import java.util.List;

/**
 * One down level of the U-Net: diffusers' {@code CrossAttnDownBlock2D} (each resnet followed by a
 * Transformer2DModel) or {@code DownBlock2D} (resnets only), then a stride-2 downsampler on every
 * level but the last. Keys {@code resnets.j}, {@code attentions.j}, {@code downsamplers.0}.
 */
public final class UNetDownBlock extends Module {

    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Downsample2D downsampler;

    /** Down block {@code level} of the U-Net described by {@code config}. */
    public UNetDownBlock(UNetConfig config, int level) {
        int in = level == 0 ? config.blockOutChannels().get(0) : config.blockOutChannels().get(level - 1);
        int out = config.blockOutChannels().get(level);
        for (int j = 0; j < config.layersPerBlock(); j++) {
            resnets.add(child("resnets." + j, new ResnetBlock2D(
                    j == 0 ? in : out, out, config.timeEmbeddingDim(), config.normNumGroups(), config.normEps())));
        }
        if (config.downHasAttention(level)) {
            for (int j = 0; j < config.layersPerBlock(); j++) {
                attentions.add(child("attentions." + j, new Transformer2DModel(out, config.downHeads(level),
                        config.crossAttentionDim(), config.normNumGroups(), config.useLinearProjection(),
                        config.downTransformerLayers(level))));
            }
        }
        boolean last = level == config.levels() - 1;
        this.downsampler = last ? null : child("downsamplers.0", new Downsample2D(out, 1));
    }

    /**
     * x [B, in, H, W], temb [B, E], context [B, T, D] -> the block's output; every resnet (or
     * resnet + transformer) output and the downsampler's output are appended to {@code skips}.
     */
    public NDArray forward(NDArray x, NDArray temb, NDArray context, List<NDArray> skips, Capture capture) {
        NDArray h = forwardWithoutDownsampler(x, temb, context, skips, capture);
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.add(h);
        }
        return h;
    }

    /**
     * As {@link #forward}, without the downsampler: x [B, in, H, W] -> [B, out, H, W], every resnet
     * (or resnet + transformer) output appended to {@code skips}. On level 0 these outputs (with
     * conv_in's) are exactly the skips the last up block consumes, which is all a DeepCache shallow
     * pass needs of the down path ({@link UNet2DConditionModel#forwardShallow}).
     */
    public NDArray forwardWithoutDownsampler(NDArray x, NDArray temb, NDArray context, List<NDArray> skips, Capture capture) {
        NDArray h = x;
        for (int j = 0; j < resnets.size(); j++) {
            h = resnets.get(j).forward(h, temb);
            if (!attentions.isEmpty()) {
                NDArray resnetOut = h;
                h = Capture.record(capture, "attentions." + j,
                        attentions.get(j).forward(resnetOut, context, Capture.child(capture, "attentions." + j)));
                if (capture == null) {
                    resnetOut.close();   // not a skip: only the transformer's output is
                }
            }
            skips.add(h);
        }
        return h;
    }
}
