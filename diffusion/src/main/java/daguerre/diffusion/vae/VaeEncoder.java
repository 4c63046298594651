package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Activations;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.Downsample2D;
import daguerre.diffusion.nn.GroupNorm;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' VAE {@code Encoder}: conv_in -> down_blocks.i (DownEncoderBlock2D: resnets, then a
 * stride-2 downsampler with asymmetric padding on every level but the last) -> mid_block ->
 * conv_norm_out -> SiLU -> conv_out to 2 * latent channels (mean and log-variance).
 */
public final class VaeEncoder extends Module {

    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final VaeMidBlock midBlock;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    public VaeEncoder(VaeConfig config) {
        List<Integer> channels = config.blockOutChannels();
        int groups = config.normNumGroups();
        this.convIn = child("conv_in", new Conv2d(config.inChannels(), channels.get(0), 3, 1, 1));
        for (int i = 0; i < config.levels(); i++) {
            int in = channels.get(Math.max(i - 1, 0));
            boolean last = i == config.levels() - 1;
            downBlocks.add(child("down_blocks." + i, new DownBlock(in, channels.get(i), config.layersPerBlock(), groups, !last)));
        }
        int deepest = channels.get(config.levels() - 1);
        this.midBlock = child("mid_block", new VaeMidBlock(deepest, groups));
        this.convNormOut = child("conv_norm_out", new GroupNorm(groups, deepest, AutoencoderKL.NORM_EPS));
        // the SiLU after conv_norm_out has no weights
        this.convOut = child("conv_out", new Conv2d(deepest, 2 * config.latentChannels(), 3, 1, 1));
    }

    /**
     * [B, in_channels, H, W] -> [B, 2 * latent, H / f, W / f]; records {@code conv_in},
     * {@code down_blocks.i}, {@code mid_block}, {@code conv_norm_out}, {@code conv_out}.
     */
    public NDArray forward(NDArray x, Capture capture) {
        NDArray h = Capture.record(capture, "conv_in", convIn.forward(x));
        for (int i = 0; i < downBlocks.size(); i++) {
            h = Capture.record(capture, "down_blocks." + i, downBlocks.get(i).forward(h));
        }
        h = Capture.record(capture, "mid_block", midBlock.forward(h));
        h = Capture.record(capture, "conv_norm_out", convNormOut.forward(h));
        return Capture.record(capture, "conv_out", convOut.forward(Activations.silu(h)));
    }

    /** diffusers' {@code DownEncoderBlock2D}: keys {@code resnets.j}, {@code downsamplers.0}. */
    public static final class DownBlock extends Module {

        private final List<ResnetBlock2D> resnets = new ArrayList<>();
        private final Downsample2D downsampler;

        public DownBlock(int in, int out, int layers, int groups, boolean downsample) {
            for (int j = 0; j < layers; j++) {
                resnets.add(child("resnets." + j, new ResnetBlock2D(j == 0 ? in : out, out, 0, groups, AutoencoderKL.NORM_EPS)));
            }
            this.downsampler = downsample ? child("downsamplers.0", new Downsample2D(out, 0)) : null;
        }

        /** [B, in, H, W] -> [B, out, H/2, W/2] (no halving on the last level) */
        public NDArray forward(NDArray x) {
            NDArray h = x;
            for (ResnetBlock2D resnet : resnets) {
                h = resnet.forward(h, null);
            }
            return downsampler == null ? h : downsampler.forward(h);
        }
    }
}
