package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;
import daguerre.diffusion.nn.Transformer2DModel;
import daguerre.diffusion.nn.Upsample2D;
import java.util.ArrayList;
import java.util.List;

/**
 * One up level of the U-Net: diffusers' {@code CrossAttnUpBlock2D} or {@code UpBlock2D}. Each of
 * its layers_per_block + 1 resnets takes the previous output concatenated on channels with the
 * latest unused skip connection (and is followed by a Transformer2DModel in the cross-attention
 * variant); every level but the last ends with an upsampler. Keys {@code resnets.j},
 * {@code attentions.j}, {@code upsamplers.0}.
 */
public final class UNetUpBlock extends Module {

    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Upsample2D upsampler;

    /** Up block {@code index} (0 = lowest resolution) of the U-Net described by {@code config}. */
    public UNetUpBlock(UNetConfig config, int index) {
        int levels = config.levels();
        int out = config.upChannels(index);
        int previous = config.upChannels(Math.max(index - 1, 0));
        // the last resnet takes the skip saved before this level's downsampler (or conv_in's)
        int skipOfLast = config.upChannels(Math.min(index + 1, levels - 1));
        int layers = config.layersPerBlock() + 1;
        for (int j = 0; j < layers; j++) {
            int skip = j == layers - 1 ? skipOfLast : out;
            int in = j == 0 ? previous : out;
            resnets.add(child("resnets." + j, new ResnetBlock2D(
                    in + skip, out, config.timeEmbeddingDim(), config.normNumGroups(), config.normEps())));
        }
        if (config.upHasAttention(index)) {
            for (int j = 0; j < layers; j++) {
                attentions.add(child("attentions." + j, new Transformer2DModel(out, config.upHeads(index),
                        config.crossAttentionDim(), config.normNumGroups(), config.useLinearProjection(),
                        config.upTransformerLayers(index))));
            }
        }
        boolean last = index == levels - 1;
        this.upsampler = last ? null : child("upsamplers.0", new Upsample2D(out));
    }

    /** Number of skip connections this block consumes. */
    public int skipCount() {
        return resnets.size();
    }

    /**
     * x [B, C, h, w], temb [B, E], context [B, T, D]; consumes {@link #skipCount()} skips from the
     * end of {@code skips}. The upsampler (if any) resizes to the spatial size of the skip left
     * at the end of {@code skips} afterwards: twice the input size unless the latent size is not a
     * multiple of the U-Net's downsampling factor.
     */
    public NDArray forward(NDArray x, NDArray temb, NDArray context, List<NDArray> skips, Capture capture) {
        // Without a capture, each intermediate (and each consumed skip) is closed as soon as the next
        // one is made: otherwise they would all live until the whole U-Net pass ends (at 512 px level
        // 0's three concatenations, ResNet and transformer outputs alone are 130 MiB). x is the
        // caller's. A capture keeps them all, since it holds the recorded ones.
        boolean closeEarly = capture == null;
        NDArray h = x;
        for (int j = 0; j < resnets.size(); j++) {
            NDArray skip = skips.remove(skips.size() - 1);
            // [B, C, h, w] ++ [B, S, h, w] -> [B, C + S, h, w]
            NDArray joined = h.concat(skip, 1);
            if (closeEarly) {
                closeUnlessInput(h, x);
                skip.close();
            }
            h = resnets.get(j).forward(joined, temb);
            if (closeEarly) {
                joined.close();
            }
            if (!attentions.isEmpty()) {
                NDArray resnetOut = h;
                h = Capture.record(capture, "attentions." + j,
                        attentions.get(j).forward(resnetOut, context, Capture.child(capture, "attentions." + j)));
                if (closeEarly) {
                    resnetOut.close();
                }
            }
        }
        if (upsampler != null) {
            NDArray next = skips.get(skips.size() - 1);
            NDArray beforeUpsampling = h;
            h = upsampler.forward(beforeUpsampling, next.getShape().get(2), next.getShape().get(3));
            if (closeEarly) {
                closeUnlessInput(beforeUpsampling, x);
            }
        }
        return h;
    }

    private static void closeUnlessInput(NDArray array, NDArray input) {
        if (array != input) {
            array.close();
        }
    }
}
