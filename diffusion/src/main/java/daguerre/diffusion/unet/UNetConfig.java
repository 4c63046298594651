package daguerre.diffusion.unet;

import static daguerre.diffusion.nn.ConfigReader.checkDivides;
import static daguerre.diffusion.nn.ConfigReader.checkFinite;
import static daguerre.diffusion.nn.ConfigReader.checkLength;
import static daguerre.diffusion.nn.ConfigReader.checkPositiveFinite;
import static daguerre.diffusion.nn.ConfigReader.checkRange;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.ConfigReader;
import java.util.Collections;
import java.util.List;

/**
 * The options of a diffusers {@code UNet2DConditionModel} {@code config.json} that Stable Diffusion
 * 1.x, 2.x and SDXL use. Missing keys take diffusers' defaults; options of other model families
 * (class embeddings, other added embeddings, LCM's guidance embedding, ...) are refused by
 * {@link #fromJson} with a message naming the key.
 *
 * @param sampleSize latent height/width the model was trained at
 * @param inChannels latent channels in
 * @param outChannels channels out
 * @param blockOutChannels channels per resolution level
 * @param layersPerBlock resnets per down block (up blocks have one more)
 * @param downBlockTypes {@code CrossAttnDownBlock2D} or {@code DownBlock2D} per level
 * @param upBlockTypes {@code CrossAttnUpBlock2D} or {@code UpBlock2D} per level (lowest resolution first)
 * @param crossAttentionDim channels of the text context
 * @param attentionHeads number of attention heads per down level; diffusers calls this
 *     {@code attention_head_dim} (one number in SD 1.x, a per-level list in SD 2.x)
 * @param transformerLayers transformer blocks in each Transformer2DModel of down level i; diffusers
 *     calls this {@code transformer_layers_per_block} (one number in SD 1.x/2.x, a per-level list in
 *     SDXL). Up block i uses entry levels-1-i, the mid block the last entry
 * @param useLinearProjection Linear proj_in/proj_out (SD 2.x) instead of 1x1 convolutions
 * @param upcastAttention attention scores in float32 (always so here: every array is float32)
 * @param normNumGroups GroupNorm groups
 * @param normEps GroupNorm epsilon of the resnets and conv_norm_out
 * @param flipSinToCos timestep embedding order cos, sin
 * @param freqShift timestep embedding frequency shift
 * @param textTime SDXL's added "text_time" conditioning, or null (SD 1.x/2.x)
 */
public record UNetConfig(
        int sampleSize,
        int inChannels,
        int outChannels,
        List<Integer> blockOutChannels,
        int layersPerBlock,
        List<String> downBlockTypes,
        List<String> upBlockTypes,
        int crossAttentionDim,
        List<Integer> attentionHeads,
        List<Integer> transformerLayers,
        boolean useLinearProjection,
        boolean upcastAttention,
        int normNumGroups,
        float normEps,
        boolean flipSinToCos,
        float freqShift,
        TextTime textTime) {

    /**
     * SDXL's {@code addition_embed_type: "text_time"}: the pooled text embedding [B, P] and N
     * micro-conditioning numbers per sample ({@code time_ids}, N = 6 in SDXL), each embedded as
     * the timestep is ({@code add_time_proj}, width {@code addition_time_embed_dim}), concatenated
     * to [B, P + N * addition_time_embed_dim] and projected by {@code add_embedding} to the time
     * embedding width; the result is added to the time embedding.
     *
     * @param timeEmbedDim {@code addition_time_embed_dim}: sinusoid width per time id (SDXL 256)
     * @param inputDim {@code projection_class_embeddings_input_dim}: P + N * timeEmbedDim (SDXL 2816)
     */
    public record TextTime(int timeEmbedDim, int inputDim) {
        public TextTime {
            checkRange("unet config", "addition_time_embed_dim", timeEmbedDim, 1, MAX_CHANNELS);
            checkRange("unet config", "projection_class_embeddings_input_dim", inputDim, 1, MAX_CHANNELS);
        }
    }

    /** Down block type with cross-attention. */
    public static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    /** Down block type without attention. */
    public static final String DOWN = "DownBlock2D";
    /** Up block type with cross-attention. */
    public static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    /** Up block type without attention. */
    public static final String UP = "UpBlock2D";

    /** Sane upper bounds of the config's sizes (SD 1.x/2.x use 4 levels, 1280 channels, 2 layers). */
    static final int MAX_LEVELS = 8;
    static final int MAX_CHANNELS = 65536;
    static final int MAX_IO_CHANNELS = 64;
    static final int MAX_LAYERS = 64;
    static final int MAX_SAMPLE_SIZE = 4096;

    public UNetConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
        attentionHeads = List.copyOf(attentionHeads);
        transformerLayers = List.copyOf(transformerLayers);
        String what = "unet config";
        int levels = checkRange(what, "block_out_channels (number of entries)", blockOutChannels.size(), 1, MAX_LEVELS);
        checkLength(what, "down_block_types", downBlockTypes.size(), "block_out_channels", levels);
        checkLength(what, "up_block_types", upBlockTypes.size(), "block_out_channels", levels);
        checkLength(what, "attention_head_dim", attentionHeads.size(), "block_out_channels", levels);
        checkLength(what, "transformer_layers_per_block", transformerLayers.size(), "block_out_channels", levels);
        for (String type : downBlockTypes) {
            if (!type.equals(CROSS_ATTN_DOWN) && !type.equals(DOWN)) {
                throw new IllegalArgumentException("unet config: unsupported down block type " + type
                        + " (supported: " + CROSS_ATTN_DOWN + ", " + DOWN + ")");
            }
        }
        for (String type : upBlockTypes) {
            if (!type.equals(CROSS_ATTN_UP) && !type.equals(UP)) {
                throw new IllegalArgumentException("unet config: unsupported up block type " + type
                        + " (supported: " + CROSS_ATTN_UP + ", " + UP + ")");
            }
        }
        checkRange(what, "sample_size", sampleSize, 1, MAX_SAMPLE_SIZE);
        checkRange(what, "in_channels", inChannels, 1, MAX_IO_CHANNELS);
        checkRange(what, "out_channels", outChannels, 1, MAX_IO_CHANNELS);
        checkRange(what, "layers_per_block", layersPerBlock, 1, MAX_LAYERS);
        checkRange(what, "cross_attention_dim", crossAttentionDim, 1, MAX_CHANNELS);
        checkRange(what, "norm_num_groups", normNumGroups, 1, MAX_CHANNELS);
        checkPositiveFinite(what, "norm_eps", normEps, 1);
        checkFinite(what, "freq_shift", freqShift);
        for (int i = 0; i < levels; i++) {
            int channels = checkRange(what, "block_out_channels[" + i + "]", blockOutChannels.get(i), 1, MAX_CHANNELS);
            int heads = checkRange(what, "attention_head_dim[" + i + "]", attentionHeads.get(i), 1, channels);
            checkDivides(what, "block_out_channels[" + i + "]", channels, "norm_num_groups", normNumGroups);
            checkDivides(what, "block_out_channels[" + i + "]", channels, "attention_head_dim[" + i + "] (heads)", heads);
            // levels without any transformer may list 0 (as SGM's transformer_depth does)
            boolean used = downBlockTypes.get(i).equals(CROSS_ATTN_DOWN) || upBlockTypes.get(levels - 1 - i).equals(CROSS_ATTN_UP)
                    || i == levels - 1;
            checkRange(what, "transformer_layers_per_block[" + i + "]", transformerLayers.get(i), used ? 1 : 0, MAX_LAYERS);
        }
    }

    /**
     * An SD 1.x/2.x config: the same number of transformer blocks in every Transformer2DModel, no
     * added conditioning.
     */
    public UNetConfig(int sampleSize, int inChannels, int outChannels, List<Integer> blockOutChannels, int layersPerBlock,
                      List<String> downBlockTypes, List<String> upBlockTypes, int crossAttentionDim,
                      List<Integer> attentionHeads, int transformerLayersPerBlock, boolean useLinearProjection,
                      boolean upcastAttention, int normNumGroups, float normEps, boolean flipSinToCos, float freqShift) {
        this(sampleSize, inChannels, outChannels, blockOutChannels, layersPerBlock, downBlockTypes, upBlockTypes,
                crossAttentionDim, attentionHeads,
                Collections.nCopies(blockOutChannels.size(),
                        checkRange("unet config", "transformer_layers_per_block", transformerLayersPerBlock, 1, MAX_LAYERS)),
                useLinearProjection, upcastAttention, normNumGroups, normEps, flipSinToCos, freqShift, null);
    }

    /** Number of resolution levels. */
    public int levels() {
        return blockOutChannels.size();
    }

    /** Width of the time embedding: 4 * block_out_channels[0]. */
    public int timeEmbeddingDim() {
        return 4 * blockOutChannels.get(0);
    }

    /** Whether down block {@code level} has cross-attention. */
    public boolean downHasAttention(int level) {
        return downBlockTypes.get(level).equals(CROSS_ATTN_DOWN);
    }

    /** Whether up block {@code index} (0 = lowest resolution) has cross-attention. */
    public boolean upHasAttention(int index) {
        return upBlockTypes.get(index).equals(CROSS_ATTN_UP);
    }

    /** Heads of down block {@code level}'s transformers. */
    public int downHeads(int level) {
        return attentionHeads.get(level);
    }

    /** Heads of the mid block's transformer: those of the last level. */
    public int midHeads() {
        return attentionHeads.get(levels() - 1);
    }

    /** Heads of up block {@code index}'s transformers: the up blocks run the levels in reverse. */
    public int upHeads(int index) {
        return attentionHeads.get(levels() - 1 - index);
    }

    /** Transformer blocks in each Transformer2DModel of down block {@code level}. */
    public int downTransformerLayers(int level) {
        return transformerLayers.get(level);
    }

    /** Transformer blocks in the mid block's Transformer2DModel: the last level's entry. */
    public int midTransformerLayers() {
        return transformerLayers.get(levels() - 1);
    }

    /** Transformer blocks in each Transformer2DModel of up block {@code index}: the levels in reverse. */
    public int upTransformerLayers(int index) {
        return transformerLayers.get(levels() - 1 - index);
    }

    /**
     * The one {@code transformer_layers_per_block} of an SD 1.x/2.x config; fails for a per-level
     * config whose levels differ (use {@link #transformerLayers()} and the per-block accessors).
     */
    public int transformerLayersPerBlock() {
        if (transformerLayers.stream().distinct().count() != 1) {
            throw new IllegalStateException("unet config: transformer_layers_per_block differs per level: " + transformerLayers);
        }
        return transformerLayers.get(0);
    }

    /** Whether the config has SDXL's added "text_time" conditioning (pooled text embedding + time ids). */
    public boolean hasTextTime() {
        return textTime != null;
    }

    /** Channels of up block {@code index} (0 = lowest resolution): block_out_channels reversed. */
    public int upChannels(int index) {
        return blockOutChannels.get(levels() - 1 - index);
    }

    /** The value of diffusers' {@code addition_embed_type} that SDXL uses. */
    public static final String TEXT_TIME = "text_time";

    /** Parses a diffusers {@code UNet2DConditionModel} config, refusing options SD 1.x/2.x and SDXL do not use. */
    public static UNetConfig fromJson(JsonNode json) {
        ConfigReader in = new ConfigReader(json, "unet config");
        in.requireValue("addition_embed_type", TEXT_TIME);
        TextTime textTime = null;
        if (in.string("addition_embed_type", null) != null) {
            textTime = new TextTime(in.requiredInteger("addition_time_embed_dim"),
                    in.requiredInteger("projection_class_embeddings_input_dim"));
        } else {
            // without addition_embed_type diffusers would build no added embedding for them
            in.requireAbsent("addition_time_embed_dim", "projection_class_embeddings_input_dim");
        }
        in.requireAbsent("class_embed_type", "num_class_embeds",
                "encoder_hid_dim", "encoder_hid_dim_type", "time_cond_proj_dim",
                "num_attention_heads", "reverse_transformer_layers_per_block", "time_embedding_dim",
                "time_embedding_act_fn", "timestep_post_act", "cross_attention_norm", "mid_block_only_cross_attention");
        in.requireValue("act_fn", "silu");
        in.requireValue("mid_block_type", "UNetMidBlock2DCrossAttn");
        in.requireValue("resnet_time_scale_shift", "default");
        in.requireValue("time_embedding_type", "positional");
        in.requireValue("attention_type", "default");
        in.requireValue("center_input_sample", false);
        in.requireValue("only_cross_attention", false);
        in.requireValue("dual_cross_attention", false);
        in.requireValue("resnet_skip_time_act", false);
        in.requireValue("class_embeddings_concat", false);
        in.requireValue("conv_in_kernel", 3);
        in.requireValue("conv_out_kernel", 3);
        in.requireValue("downsample_padding", 1);
        in.requireValue("mid_block_scale_factor", 1.0);
        in.requireValue("resnet_out_scale_factor", 1.0);

        List<Integer> channels = in.intList("block_out_channels", List.of(320, 640, 1280, 1280));
        int levels = channels.size();
        JsonNode heads = json.get("attention_head_dim");
        List<Integer> headList;
        if (heads == null || heads.isNull()) {
            headList = Collections.nCopies(levels, 8);
        } else if (heads.isInt()) {
            headList = Collections.nCopies(levels, heads.intValue());
        } else {
            headList = in.intList("attention_head_dim", List.of());
        }
        JsonNode depth = json.get("transformer_layers_per_block");
        List<Integer> depthList;
        if (depth == null || depth.isNull()) {
            depthList = Collections.nCopies(levels, 1);
        } else if (depth.isInt()) {
            depthList = Collections.nCopies(levels, depth.intValue());
        } else {
            depthList = in.intList("transformer_layers_per_block", List.of());
        }
        return new UNetConfig(
                in.integer("sample_size", 64),
                in.integer("in_channels", 4),
                in.integer("out_channels", 4),
                channels,
                in.integer("layers_per_block", 2),
                in.stringList("down_block_types", List.of(CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, DOWN)),
                in.stringList("up_block_types", List.of(UP, CROSS_ATTN_UP, CROSS_ATTN_UP, CROSS_ATTN_UP)),
                in.integer("cross_attention_dim", 1280),
                headList,
                depthList,
                in.bool("use_linear_projection", false),
                in.bool("upcast_attention", false),
                in.integer("norm_num_groups", 32),
                (float) in.number("norm_eps", 1e-5),
                in.bool("flip_sin_to_cos", true),
                (float) in.number("freq_shift", 0),
                textTime);
    }
}
