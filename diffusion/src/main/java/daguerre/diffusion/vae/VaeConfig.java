package daguerre.diffusion.vae;

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

    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        if (blockOutChannels.isEmpty()) {
            throw new IllegalArgumentException("vae config: block_out_channels is empty");
        }
        for (int i = 0; i < blockOutChannels.size(); i++) {
            if (blockOutChannels.get(i) % normNumGroups != 0) {
                throw new IllegalArgumentException("vae config: block_out_channels[" + i + "] = " + blockOutChannels.get(i)
                        + " is not a multiple of norm_num_groups " + normNumGroups);
            }
        }
        if (layersPerBlock <= 0 || latentChannels <= 0) {
            throw new IllegalArgumentException("vae config: layers_per_block and latent_channels must be positive");
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
        if (down.size() != channels.size() || up.size() != channels.size()) {
            throw new IllegalArgumentException("vae config: " + channels.size() + " block_out_channels but "
                    + down.size() + " down_block_types and " + up.size() + " up_block_types");
        }
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
