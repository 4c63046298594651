package daguerre.diffusion.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import java.util.List;

/**
 * The diffusers / transformers {@code config.json} of each component config record, as those
 * libraries write them (only the keys the records hold, plus the fixed choices Stable Diffusion
 * makes); each parses back to an equal record with the record's {@code fromJson}.
 */
public final class ConfigJson {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigJson() {}

    /** {@code unet/config.json} of a {@code UNet2DConditionModel}. */
    public static ObjectNode unet(UNetConfig c) {
        ObjectNode json = JSON.createObjectNode();
        json.put("_class_name", "UNet2DConditionModel");
        json.put("sample_size", c.sampleSize());
        json.put("in_channels", c.inChannels());
        json.put("out_channels", c.outChannels());
        ints(json.putArray("block_out_channels"), c.blockOutChannels());
        json.put("layers_per_block", c.layersPerBlock());
        strings(json.putArray("down_block_types"), c.downBlockTypes());
        json.put("mid_block_type", "UNetMidBlock2DCrossAttn");
        strings(json.putArray("up_block_types"), c.upBlockTypes());
        json.put("cross_attention_dim", c.crossAttentionDim());
        if (c.attentionHeads().stream().distinct().count() == 1) {
            json.put("attention_head_dim", c.attentionHeads().get(0));
        } else {
            ints(json.putArray("attention_head_dim"), c.attentionHeads());
        }
        if (c.transformerLayers().stream().distinct().count() == 1) {
            json.put("transformer_layers_per_block", c.transformerLayers().get(0));
        } else {
            ints(json.putArray("transformer_layers_per_block"), c.transformerLayers());
        }
        if (c.hasTextTime()) {   // SDXL
            json.put("addition_embed_type", "text_time");
            json.put("addition_time_embed_dim", c.textTime().timeEmbedDim());
            json.put("projection_class_embeddings_input_dim", c.textTime().inputDim());
        }
        json.put("use_linear_projection", c.useLinearProjection());
        json.put("upcast_attention", c.upcastAttention());
        json.put("norm_num_groups", c.normNumGroups());
        json.put("norm_eps", decimal(c.normEps()));
        json.put("flip_sin_to_cos", c.flipSinToCos());
        json.put("freq_shift", decimal(c.freqShift()));
        json.put("act_fn", "silu");
        json.put("center_input_sample", false);
        json.put("downsample_padding", 1);
        return json;
    }

    /** {@code vae/config.json} of an {@code AutoencoderKL}. */
    public static ObjectNode vae(VaeConfig c) {
        ObjectNode json = JSON.createObjectNode();
        json.put("_class_name", "AutoencoderKL");
        json.put("in_channels", c.inChannels());
        json.put("out_channels", c.outChannels());
        ArrayNode down = json.putArray("down_block_types");
        ArrayNode up = json.putArray("up_block_types");
        for (int i = 0; i < c.levels(); i++) {
            down.add("DownEncoderBlock2D");
            up.add("UpDecoderBlock2D");
        }
        ints(json.putArray("block_out_channels"), c.blockOutChannels());
        json.put("layers_per_block", c.layersPerBlock());
        json.put("act_fn", "silu");
        json.put("latent_channels", c.latentChannels());
        json.put("norm_num_groups", c.normNumGroups());
        json.put("sample_size", c.sampleSize());
        json.put("scaling_factor", decimal(c.scalingFactor()));
        return json;
    }

    /** {@code text_encoder/config.json} of a transformers {@code CLIPTextModel}. */
    public static ObjectNode textEncoder(ClipTextConfig c) {
        return textEncoder(c, false);
    }

    /**
     * {@code text_encoder/config.json} of a {@code CLIPTextModel}, or with {@code withProjection}
     * {@code text_encoder_2/config.json} of SDXL's {@code CLIPTextModelWithProjection}.
     */
    public static ObjectNode textEncoder(ClipTextConfig c, boolean withProjection) {
        ObjectNode json = JSON.createObjectNode();
        json.putArray("architectures").add(withProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel");
        json.put("model_type", "clip_text_model");
        json.put("vocab_size", c.vocabSize());
        json.put("hidden_size", c.hiddenSize());
        json.put("intermediate_size", c.intermediateSize());
        json.put("num_hidden_layers", c.numHiddenLayers());
        json.put("num_attention_heads", c.numAttentionHeads());
        json.put("max_position_embeddings", c.maxPositionEmbeddings());
        json.put("hidden_act", c.hiddenAct().configName());
        json.put("layer_norm_eps", decimal(c.layerNormEps()));
        json.put("bos_token_id", c.bosTokenId());
        json.put("eos_token_id", c.eosTokenId());
        json.put("pad_token_id", c.padTokenId());
        json.put("projection_dim", c.projectionDim());
        return json;
    }

    /** {@code scheduler/scheduler_config.json}: a PNDM scheduler (diffusers' SD 1.5 default) with these settings. */
    public static ObjectNode scheduler(SchedulerConfig c) {
        ObjectNode json = JSON.createObjectNode();
        json.put("_class_name", "PNDMScheduler");
        json.put("num_train_timesteps", c.numTrainTimesteps());
        json.put("beta_start", c.betaStart());
        json.put("beta_end", c.betaEnd());
        json.put("beta_schedule", c.betaSchedule().configName());
        json.put("timestep_spacing", c.timestepSpacing().configName());
        json.put("steps_offset", c.stepsOffset());
        json.put("prediction_type", c.predictionType().configName());
        json.put("rescale_betas_zero_snr", c.rescaleBetasZeroSnr());
        json.put("set_alpha_to_one", c.setAlphaToOne());
        json.put("clip_sample", false);
        json.put("skip_prk_steps", true);
        return json;
    }

    /** The float's shortest decimal form as a double (1e-5f is written 1.0E-5, not 9.99999974737875E-6). */
    private static double decimal(float value) {
        return Double.parseDouble(Float.toString(value));
    }

    private static void ints(ArrayNode array, List<Integer> values) {
        values.forEach(array::add);
    }

    private static void strings(ArrayNode array, List<String> values) {
        values.forEach(array::add);
    }
}
