package daguerre.diffusion.vae;

import static daguerre.diffusion.nn.ConfigReader.checkDivides;
import static daguerre.diffusion.nn.ConfigReader.checkPositiveFinite;
import static daguerre.diffusion.nn.ConfigReader.checkRange;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.ConfigReader;
import java.util.Collections;
import java.util.List;

/**
 * The options of a diffusers {@code AutoencoderKL} {@code config.json} used by Stable Diffusion
 * 1.x/2.x VAEs. Missing keys take diffusers' defaults; other layouts are refused by
 * {@link #fromJson} with a message naming the key.
 *
 * @param inChannels image channels into the encoder
 * @param outChannels image channels out of the decoder
 * @param blockOutChannels channels per resolution level (encoder order, highest resolution first)
 * @param layersPerBlock resnets per encoder level (decoder levels have one more)
 * @param latentChannels latent channels
 * @param normNumGroups GroupNorm groups
 * @param sampleSize image height/width the model was trained at
 * @param scalingFactor latents are multiplied by this after encoding and divided by it before
 *     decoding, by the caller ({@link AutoencoderKL} itself works on raw latents)
 */
public record VaeConfig(
        int inChannels,
        int outChannels,
        List<Integer> blockOutChannels,
        int layersPerBlock,
        int latentChannels,
        int normNumGroups,
        int sampleSize,
        float scalingFactor) {

    /** The SD 1.x/2.x scaling factor, diffusers' default. */
    public static final float SD_SCALING_FACTOR = 0.18215f;

    /** Sane upper bounds of the config's sizes (SD VAEs: 4 levels, 512 channels, scaling factor 0.18215). */
    static final int MAX_LEVELS = 8;
    static final int MAX_CHANNELS = 65536;
    static final int MAX_IO_CHANNELS = 64;
    static final int MAX_LAYERS = 64;
    static final int MAX_SAMPLE_SIZE = 8192;
    static final double MAX_SCALING_FACTOR = 100;

    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        String what = "vae config";
        int levels = checkRange(what, "block_out_channels (number of entries)", blockOutChannels.size(), 1, MAX_LEVELS);
        checkRange(what, "in_channels", inChannels, 1, MAX_IO_CHANNELS);
        checkRange(what, "out_channels", outChannels, 1, MAX_IO_CHANNELS);
        checkRange(what, "latent_channels", latentChannels, 1, MAX_IO_CHANNELS);
        checkRange(what, "layers_per_block", layersPerBlock, 1, MAX_LAYERS);
        checkRange(what, "norm_num_groups", normNumGroups, 1, MAX_CHANNELS);
        checkRange(what, "sample_size", sampleSize, 1, MAX_SAMPLE_SIZE);
        checkPositiveFinite(what, "scaling_factor", scalingFactor, MAX_SCALING_FACTOR);
        for (int i = 0; i < levels; i++) {
            int channels = checkRange(what, "block_out_channels[" + i + "]", blockOutChannels.get(i), 1, MAX_CHANNELS);
            checkDivides(what, "block_out_channels[" + i + "]", channels, "norm_num_groups", normNumGroups);
        }
    }

    /** Number of resolution levels. */
    public int levels() {
        return blockOutChannels.size();
    }

    /** Image pixels per latent pixel along each axis: 2^(levels - 1). */
    public int downsamplingFactor() {
        return 1 << (levels() - 1);
    }

    /** Parses a diffusers {@code AutoencoderKL} config, refusing options SD 1.x/2.x VAEs do not use. */
    public static VaeConfig fromJson(JsonNode json) {
        ConfigReader in = new ConfigReader(json, "vae config");
        in.requireAbsent("latents_mean", "latents_std", "shift_factor");
        in.requireValue("act_fn", "silu");
        in.requireValue("use_quant_conv", true);
        in.requireValue("use_post_quant_conv", true);
        in.requireValue("mid_block_add_attention", true);
        List<Integer> channels = in.intList("block_out_channels", List.of(64));
        List<String> down = in.stringList("down_block_types", Collections.nCopies(channels.size(), "DownEncoderBlock2D"));
        List<String> up = in.stringList("up_block_types", Collections.nCopies(channels.size(), "UpDecoderBlock2D"));
        ConfigReader.checkLength("vae config", "down_block_types", down.size(), "block_out_channels", channels.size());
        ConfigReader.checkLength("vae config", "up_block_types", up.size(), "block_out_channels", channels.size());
        for (String type : down) {
            if (!type.equals("DownEncoderBlock2D")) {
                throw new IllegalArgumentException("vae config: unsupported down block type " + type + " (supported: DownEncoderBlock2D)");
            }
        }
        for (String type : up) {
            if (!type.equals("UpDecoderBlock2D")) {
                throw new IllegalArgumentException("vae config: unsupported up block type " + type + " (supported: UpDecoderBlock2D)");
            }
        }
        return new VaeConfig(
                in.integer("in_channels", 3),
                in.integer("out_channels", 3),
                channels,
                in.integer("layers_per_block", 1),
                in.integer("latent_channels", 4),
                in.integer("norm_num_groups", 32),
                in.integer("sample_size", 32),
                (float) in.number("scaling_factor", SD_SCALING_FACTOR));
    }
}
