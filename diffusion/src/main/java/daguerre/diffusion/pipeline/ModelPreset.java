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
 * @param name the preset's name ({@code sd15}, {@code small}, {@code tiny}, {@code sdxl}, {@code tiny-xl})
 * @param unet U-Net config
 * @param vae VAE config
 * @param textEncoder text encoder config (SDXL: {@code text_encoder}, CLIP ViT-L)
 * @param textEncoder2 SDXL's second text encoder ({@code text_encoder_2}, with its projection), or
 *     null for SD 1.x/2.x presets; present exactly when the U-Net has the text_time embedding
 */
public record ModelPreset(String name, UNetConfig unet, VaeConfig vae, ClipTextConfig textEncoder,
                          ClipTextConfig textEncoder2) {

    public ModelPreset {
        if (unet.hasTextTime() != (textEncoder2 != null)) {
            throw new IllegalArgumentException("preset " + name + ": a second text encoder goes with an SDXL U-Net"
                    + " (addition_embed_type text_time) and only with one");
        }
        if (textEncoder2 != null) {
            int context = textEncoder.hiddenSize() + textEncoder2.hiddenSize();
            if (unet.crossAttentionDim() != context) {
                throw new IllegalArgumentException("preset " + name + ": cross_attention_dim " + unet.crossAttentionDim()
                        + " is not the two text encoders' widths together (" + context + ")");
            }
            int added = textEncoder2.projectionDim() + SDXL_TIME_IDS * unet.textTime().timeEmbedDim();
            if (unet.textTime().inputDim() != added) {
                throw new IllegalArgumentException("preset " + name + ": projection_class_embeddings_input_dim "
                        + unet.textTime().inputDim() + " is not projection_dim + 6 * addition_time_embed_dim (" + added + ")");
            }
        } else if (unet.crossAttentionDim() != textEncoder.hiddenSize()) {
            throw new IllegalArgumentException("preset " + name + ": cross_attention_dim " + unet.crossAttentionDim()
                    + " is not the text encoder's width " + textEncoder.hiddenSize());
        }
    }

    /** An SD 1.x/2.x preset: one text encoder. */
    public ModelPreset(String name, UNetConfig unet, VaeConfig vae, ClipTextConfig textEncoder) {
        this(name, unet, vae, textEncoder, null);
    }

    /** Whether this is an SDXL-shaped preset (two text encoders, text_time conditioning). */
    public boolean isSdxl() {
        return textEncoder2 != null;
    }

    /** Micro-conditioning numbers per sample of SDXL ({@code time_ids}: original size, crop top-left, target size). */
    public static final int SDXL_TIME_IDS = MicroConditioning.TIME_IDS;

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

    /**
     * SDXL base 1.0: U-Net block_out_channels [320, 640, 1280], 2 layers per block, DownBlock2D +
     * CrossAttnDownBlock2D x2, CrossAttnUpBlock2D x2 + UpBlock2D, transformer_layers_per_block
     * [1, 2, 10], attention_head_dim (heads) [5, 10, 20], cross_attention_dim 2048, linear
     * projections, addition_embed_type text_time (addition_time_embed_dim 256,
     * projection_class_embeddings_input_dim 2816), sample_size 128; the SD VAE [128, 256, 512, 512]
     * with scaling_factor 0.13025 and sample_size 1024; text_encoder CLIP ViT-L/14 (as SD 1.5's) and
     * text_encoder_2 OpenCLIP ViT-bigG/14: hidden 1280, 32 layers, 20 heads, intermediate 5120, gelu,
     * projection_dim 1280. About 2.567 B U-Net parameters, 123 M + 695 M text encoder parameters,
     * 84 M VAE parameters.
     */
    public static final ModelPreset SDXL = sdxlShaped("sdxl", 128, List.of(320, 640, 1280), List.of(5, 10, 20),
            List.of(1, 2, 10), 256, List.of(128, 256, 512, 512), 1024,
            new ClipTextConfig(CLIP_VOCAB_SIZE, 768, 3072, 12, 12, CLIP_POSITIONS,
                    ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1, 768),
            new ClipTextConfig(CLIP_VOCAB_SIZE, 1280, 5120, 32, 20, CLIP_POSITIONS,
                    ClipTextConfig.Activation.GELU, 1e-5f, 49406, 49407, 1, 1280));

    /**
     * SDXL's structure at tiny widths, for tests: U-Net [32, 64, 128] with the same block types, a
     * different transformer depth per level ([1, 2, 3]), heads [1, 2, 4], text_time conditioning
     * (addition_time_embed_dim 8); the tiny VAE [32, 64]; two 2-layer text encoders of width 32
     * (the second with gelu and a 32-wide projection), so the context is 64 wide.
     */
    public static final ModelPreset TINY_XL = sdxlShaped("tiny-xl", 32, List.of(32, 64, 128), List.of(1, 2, 4),
            List.of(1, 2, 3), 8, List.of(32, 64), 32,
            new ClipTextConfig(CLIP_VOCAB_SIZE, 32, 37, 2, 4, CLIP_POSITIONS,
                    ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1, 32),
            new ClipTextConfig(CLIP_VOCAB_SIZE, 32, 37, 2, 4, CLIP_POSITIONS,
                    ClipTextConfig.Activation.GELU, 1e-5f, 49406, 49407, 1, 32));

    /** Every preset, by name. */
    public static final List<ModelPreset> ALL = List.of(SD15, SMALL, TINY, SDXL, TINY_XL);

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

    /**
     * A model with SDXL's block structure: three U-Net levels, the first without attention, two
     * resnets per level, linear transformer projections, a per-level transformer depth, the two text
     * encoders' widths together as the cross-attention width, and the text_time added embedding on
     * the second encoder's projection and 6 time ids.
     */
    private static ModelPreset sdxlShaped(String name, int sampleSize, List<Integer> unetChannels, List<Integer> heads,
                                          List<Integer> depth, int timeEmbedDim, List<Integer> vaeChannels,
                                          int vaeSampleSize, ClipTextConfig text, ClipTextConfig text2) {
        UNetConfig unet = new UNetConfig(sampleSize, 4, 4, unetChannels, 2,
                List.of(UNetConfig.DOWN, UNetConfig.CROSS_ATTN_DOWN, UNetConfig.CROSS_ATTN_DOWN),
                List.of(UNetConfig.CROSS_ATTN_UP, UNetConfig.CROSS_ATTN_UP, UNetConfig.UP),
                text.hiddenSize() + text2.hiddenSize(), heads, depth, true, false, 32, 1e-5f, true, 0f,
                new UNetConfig.TextTime(timeEmbedDim, text2.projectionDim() + SDXL_TIME_IDS * timeEmbedDim));
        VaeConfig vae = new VaeConfig(3, 3, vaeChannels, 2, 4, 32, vaeSampleSize, SDXL_SCALING_FACTOR);
        return new ModelPreset(name, unet, vae, text, text2);
    }

    /** SDXL's VAE scaling_factor. */
    public static final float SDXL_SCALING_FACTOR = 0.13025f;
}
