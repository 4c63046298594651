package daguerre.diffusion.pipeline;

import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The component configs of a Stable Diffusion model of a well-known size, for random-weight models
 * (benchmarks, round-trip tests) and for the trainer. Every preset uses the real CLIP vocabulary
 * (49408 tokens) so that the bundled tokenizer's ids fit its embedding table.
 *
 * @param name the preset's name ({@code sd15}, {@code small}, {@code tiny})
 * @param unet U-Net config
 * @param vae VAE config
 * @param textEncoder text encoder config
 */
public record ModelPreset(String name, UNetConfig unet, VaeConfig vae, ClipTextConfig textEncoder) {

    /** Tokens of the OpenAI CLIP vocabulary. */
    public static final int CLIP_VOCAB_SIZE = 49408;
    /** Token positions of CLIP text encoders. */
    public static final int CLIP_POSITIONS = 77;

    /**
     * Stable Diffusion 1.5: U-Net block_out_channels [320, 640, 1280, 1280], 2 layers per block,
     * CrossAttnDownBlock2D x3 + DownBlock2D, UpBlock2D + CrossAttnUpBlock2D x3, 8 heads,
     * cross_attention_dim 768, sample_size 64; VAE [128, 256, 512, 512], 2 layers, 4 latent
     * channels, scaling 0.18215; CLIP ViT-L/14 text encoder: hidden 768, 12 layers, 12 heads,
     * intermediate 3072, quick_gelu, 77 positions.
     */
    public static final ModelPreset SD15 = sd15Shaped("sd15", List.of(320, 640, 1280, 1280), 8,
            List.of(128, 256, 512, 512), 512, new ClipTextConfig(CLIP_VOCAB_SIZE, 768, 3072, 12, 12, CLIP_POSITIONS,
                    ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1));

    /**
     * SD 1.5's structure at small widths (U-Net and VAE [32, 64, 128, 128]; a 12-layer text
     * encoder of width 64 with one 64-wide head, as single-file config inference assumes):
     * exercises every block type and key of an SD 1.5 checkpoint in about 18 M parameters.
     */
    public static final ModelPreset SMALL = sd15Shaped("small", List.of(32, 64, 128, 128), 8,
            List.of(32, 64, 128, 128), 512, new ClipTextConfig(CLIP_VOCAB_SIZE, 64, 256, 12, 1, CLIP_POSITIONS,
                    ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1));

    /**
     * The sizes of the golden tiny parts ({@code unet_tiny}, {@code vae_tiny}, {@code clip_text_tiny}):
     * U-Net [32, 64] with DownBlock2D + CrossAttnDownBlock2D, 8 heads, context 32, sample_size 32;
     * VAE [32, 64], 2 layers; text encoder hidden 32, 2 layers, 4 heads, intermediate 37. Only the
     * vocabulary differs from {@code clip_text_tiny} (49408 instead of 1000, for the real tokenizer).
     */
    public static final ModelPreset TINY = new ModelPreset("tiny",
            new UNetConfig(32, 4, 4, List.of(32, 64), 2,
                    List.of(UNetConfig.DOWN, UNetConfig.CROSS_ATTN_DOWN), List.of(UNetConfig.CROSS_ATTN_UP, UNetConfig.UP),
                    32, List.of(8, 8), 1, false, false, 32, 1e-5f, true, 0f),
            new VaeConfig(3, 3, List.of(32, 64), 2, 4, 32, 32, VaeConfig.SD_SCALING_FACTOR),
            new ClipTextConfig(CLIP_VOCAB_SIZE, 32, 37, 2, 4, CLIP_POSITIONS,
                    ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1));

    /** Every preset, by name. */
    public static final List<ModelPreset> ALL = List.of(SD15, SMALL, TINY);

    /** The preset called {@code name} (case-insensitive); fails naming the known ones. */
    public static ModelPreset named(String name) {
        for (ModelPreset preset : ALL) {
            if (preset.name.equals(name.toLowerCase(Locale.ROOT))) {
                return preset;
            }
        }
        throw new IllegalArgumentException("unknown model preset '" + name + "' (known: "
                + ALL.stream().map(ModelPreset::name).toList() + ")");
    }

    /**
     * A model with SD 1.x's block structure: four U-Net levels with cross-attention on the first
     * three, two resnets per level, a four-level VAE with two resnets per level, the text encoder's
     * width as the cross-attention width.
     */
    private static ModelPreset sd15Shaped(String name, List<Integer> unetChannels, int heads, List<Integer> vaeChannels,
                                          int vaeSampleSize, ClipTextConfig text) {
        UNetConfig unet = new UNetConfig(64, 4, 4, unetChannels, 2,
                List.of(UNetConfig.CROSS_ATTN_DOWN, UNetConfig.CROSS_ATTN_DOWN, UNetConfig.CROSS_ATTN_DOWN, UNetConfig.DOWN),
                List.of(UNetConfig.UP, UNetConfig.CROSS_ATTN_UP, UNetConfig.CROSS_ATTN_UP, UNetConfig.CROSS_ATTN_UP),
                text.hiddenSize(), Collections.nCopies(unetChannels.size(), heads), 1, false, false, 32, 1e-5f, true, 0f);
        VaeConfig vae = new VaeConfig(3, 3, vaeChannels, 2, 4, 32, vaeSampleSize, VaeConfig.SD_SCALING_FACTOR);
        return new ModelPreset(name, unet, vae, text);
    }
}
