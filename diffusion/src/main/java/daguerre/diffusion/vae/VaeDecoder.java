package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Activations;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.GroupNorm;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.ResnetBlock2D;
import daguerre.diffusion.nn.Upsample2D;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * diffusers' VAE {@code Decoder}: conv_in -> mid_block -> up_blocks.i (UpDecoderBlock2D:
 * layers_per_block + 1 resnets, then a nearest x2 upsampler on every level but the last; channels
 * in reverse order) -> conv_norm_out -> SiLU -> conv_out.
 */
public final class VaeDecoder extends Module {

    private final Conv2d convIn;
    private final VaeMidBlock midBlock;
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private long bandedLevelBytes = UpBlock.BANDED_LEVEL_BYTES;

    public VaeDecoder(VaeConfig config) {
        List<Integer> channels = config.blockOutChannels();
        int levels = config.levels();
        int groups = config.normNumGroups();
        int deepest = channels.get(levels - 1);
        this.convIn = child("conv_in", new Conv2d(config.latentChannels(), deepest, 3, 1, 1));
        this.midBlock = child("mid_block", new VaeMidBlock(deepest, groups));
        for (int i = 0; i < levels; i++) {
            int in = channels.get(levels - 1 - Math.max(i - 1, 0));
            int out = channels.get(levels - 1 - i);
            boolean last = i == levels - 1;
            upBlocks.add(child("up_blocks." + i, new UpBlock(in, out, config.layersPerBlock() + 1, groups, !last)));
        }
        this.convNormOut = child("conv_norm_out", new GroupNorm(groups, channels.get(0), AutoencoderKL.NORM_EPS));
        // the SiLU after conv_norm_out has no weights
        this.convOut = child("conv_out", new Conv2d(channels.get(0), config.outChannels(), 3, 1, 1));
    }

    /**
     * [B, latent, h, w] -> [B, out_channels, h * f, w * f]; records {@code conv_in},
     * {@code mid_block}, {@code up_blocks.i}, {@code conv_norm_out}, {@code conv_out}.
     */
    public NDArray forward(NDArray z, Capture capture) {
        if (capture != null) {
            return forwardRecorded(z, capture);
        }
        // At 512 px the up blocks' activations are 128-256 MiB each: each stage's input is closed
        // once the next stage has its output (an up block's, inside its first ResNet block), so only
        // one stage's temporaries are alive at a time.
        // Channels-last activations spare oneDNN a layout reorder around every convolution.
        boolean channelsLast = Kernels.fuse(FusedOps.Kernel.CHANNELS_LAST);
        NDArray h = channelsLast ? replacing(FusedOps.channelsLast(z), convIn::forward) : convIn.forward(z);
        h = replacing(h, midBlock::forward);
        for (UpBlock block : upBlocks) {
            h = block.forwardConsuming(h, channelsLast, bandedLevelBytes);
        }
        h = replacing(h, convNormOut::forwardSiluOverwriting);
        h = replacing(h, convOut::forward);
        return channelsLast ? replacing(h, FusedOps::channelsFirst) : h;
    }

    /** The same computation, keeping every stage's output for {@code capture}. */
    private NDArray forwardRecorded(NDArray z, Capture capture) {
        NDArray h = Capture.record(capture, "conv_in", convIn.forward(z));
        h = Capture.record(capture, "mid_block", midBlock.forward(h));
        for (int i = 0; i < upBlocks.size(); i++) {
            h = Capture.record(capture, "up_blocks." + i, upBlocks.get(i).forward(h));
        }
        h = Capture.record(capture, "conv_norm_out", convNormOut.forward(h));
        return Capture.record(capture, "conv_out", convOut.forward(Activations.silu(h)));
    }

    /** Bands the last level's ResNet blocks from inputs of this many bytes on (tests: 0, always). */
    void bandLastLevelFrom(long bytes) {
        this.bandedLevelBytes = bytes;
    }

    /** stage(h), closing h (a temporary of this forward pass; autograd keeps what it needs). */
    private static NDArray replacing(NDArray h, UnaryOperator<NDArray> stage) {
        try (h) {
            return stage.apply(h);
        }
    }

    /** diffusers' {@code UpDecoderBlock2D}: keys {@code resnets.j}, {@code upsamplers.0}. */
    public static final class UpBlock extends Module {

        /**
         * The last level (no upsampler) runs its ResNet blocks in bands of rows once its input
         * takes this many bytes (512 MiB: SD's VAE at 1024 px, where the level's first block was
         * the decode's peak; measured 2.10 -> 1.75 GiB of activations, for a decode about 6% slower).
         * Only the last level: a banded block's output stays in its input's memory, which an
         * upsampler after it would hold beside its doubled output (banding every level over 128 MiB
         * measured 1.84 GiB). At 512 px banding saved nothing (the peak lies elsewhere) and cost up
         * to 8% of the decode.
         */
        public static final long BANDED_LEVEL_BYTES = 512L << 20;

        private final List<ResnetBlock2D> resnets = new ArrayList<>();
        private final Upsample2D upsampler;

        public UpBlock(int in, int out, int layers, int groups, boolean upsample) {
            for (int j = 0; j < layers; j++) {
                resnets.add(child("resnets." + j, new ResnetBlock2D(j == 0 ? in : out, out, 0, groups, AutoencoderKL.NORM_EPS)));
            }
            this.upsampler = upsample ? child("upsamplers.0", new Upsample2D(out)) : null;
        }

        /**
         * {@link #forward} for a caller that is done with x: each ResNet block consumes its input
         * (its memory reused there), the last level's blocks go through a large map in bands of rows
         * ({@link ResnetBlock2D#forwardBanded}, from {@code bandedLevelBytes}, normally
         * {@link #BANDED_LEVEL_BYTES}), and a large doubled map is upsampled and convolved in bands of
         * rows ({@link Upsample2D#forwardBanded}).
         *
         * @param channelsLast whether the activations are channels-last (the upsampler's output is laid out alike)
         */
        public NDArray forwardConsuming(NDArray x, boolean channelsLast, long bandedLevelBytes) {
            boolean bandedBlocks = upsampler == null && channelsLast && x.getShape().size() * Float.BYTES >= bandedLevelBytes
                    && Kernels.fuse(FusedOps.Kernel.BANDED_RESNET);
            NDArray h = x;
            for (ResnetBlock2D resnet : resnets) {
                h = bandedBlocks ? resnet.forwardBanded(h) : resnet.forwardConsuming(h);
            }
            if (upsampler == null) {
                return h;
            }
            long doubledBytes = 4 * h.getShape().size() * Float.BYTES;
            boolean banded = doubledBytes > Upsample2D.BAND_BYTES && Kernels.fuse(FusedOps.Kernel.BANDED_UPSAMPLE);
            return replacing(h, banded ? in -> upsampler.forwardBanded(in, channelsLast) : upsampler::forward);
        }

        /** [B, in, h, w] -> [B, out, 2h, 2w] (no doubling on the last level) */
        public NDArray forward(NDArray x) {
            NDArray h = resnets.get(0).forward(x, null);
            for (ResnetBlock2D resnet : resnets.subList(1, resnets.size())) {
                h = replacing(h, previous -> resnet.forward(previous, null));
            }
            return upsampler == null ? h : replacing(h, upsampler::forward);
        }
    }
}
