package daguerre.weights.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.TensorSource;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Infers the diffusers / transformers {@code config.json} of a model component from its tensor
 * shapes (canonical key names), for single-file checkpoints that carry no config.
 *
 * <p>Shapes fix the widths, depths, block types and projection kinds. What shapes cannot tell
 * follows the Stable Diffusion conventions, chosen by the layout: SD 1.x (1x1-convolution
 * {@code proj_in}, CLIP ViT-L text encoder) has 8 attention heads per U-Net level and quick_gelu;
 * SD 2.x (linear {@code proj_in}, OpenCLIP text tower) has 64-wide attention heads, upcast
 * attention and exact gelu. Text encoders use 64-wide heads. GroupNorm uses 32 groups.
 */
public final class ConfigInference {

    /** Which text encoder family a single file holds (it decides the activation). */
    public enum TextEncoderKind {
        /** SD 1.x: OpenAI CLIP ViT-L/14 text model, quick_gelu. */
        CLIP,
        /** SD 2.x: OpenCLIP ViT-H/14 text tower, exact gelu. */
        OPEN_CLIP
    }

    /** Head width of SD 2.x U-Nets and of CLIP text encoders. */
    public static final int HEAD_WIDTH = 64;
    /** Heads per attention layer of SD 1.x U-Nets ({@code attention_head_dim: 8} in their configs). */
    public static final int SD1_UNET_HEADS = 8;
    /** SDXL's micro-conditioning: original size, crop top-left and target size, two numbers each. */
    public static final int SDXL_TIME_IDS = 6;
    /** The pooled text embedding width of SDXL base (OpenCLIP ViT-bigG's projection), when no encoder says otherwise. */
    public static final int SDXL_POOLED_DIM = 1280;
    /** SDXL's latent size: 1024 px images. */
    public static final int SDXL_SAMPLE_SIZE = 128;
    /** SDXL's VAE latent scaling factor (the SD VAE architecture, retrained). */
    public static final double SDXL_VAE_SCALING_FACTOR = 0.13025;
    /** SD 1.x/2.x VAE latent scaling factor. */
    public static final double VAE_SCALING_FACTOR = 0.18215;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TEXT_LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\.");

    private ConfigInference() {}

    /**
     * A {@code UNet2DConditionModel} config from a U-Net's canonical tensors.
     *
     * @param predictionType {@code epsilon} or {@code v_prediction}; an SD 2.x v-prediction model is
     *     the 768-pixel one (sample_size 96), every other 64
     */
    public static ObjectNode unet(TensorSource unet, String predictionType) throws IOException {
        return unet(unet, predictionType, 0);
    }

    /**
     * As {@link #unet(TensorSource, String)}, for SDXL-class U-Nets too: their added embedding
     * ({@code add_embedding.*}) takes {@code pooledDim} (text encoder 2's projection width) plus
     * six sinusoidal embeddings of the micro-conditioning ids; 0 when the model has no such encoder.
     * SDXL U-Nets have 64-wide heads and no attention upcast, and are trained at 1024 px (sample_size 128).
     */
    public static ObjectNode unet(TensorSource unet, String predictionType, int pooledDim) throws IOException {
        int levels = countIndexed(unet, "down_blocks.");
        if (levels == 0) {
            throw new IOException(unet.description() + ": no 'down_blocks.*' tensors: not a U-Net");
        }
        int layersPerBlock = countIndexed(unet, "down_blocks.0.resnets.");
        int[] conv1 = new int[levels];
        ArrayNode blockOut = JSON.createArrayNode();
        ArrayNode down = JSON.createArrayNode();
        ArrayNode up = JSON.createArrayNode();
        for (int i = 0; i < levels; i++) {
            conv1[i] = dim(unet, "down_blocks." + i + ".resnets.0.conv1.weight", 0);
            blockOut.add(conv1[i]);
            down.add(hasPrefix(unet, "down_blocks." + i + ".attentions.") ? "CrossAttnDownBlock2D" : "DownBlock2D");
            up.add(hasPrefix(unet, "up_blocks." + i + ".attentions.") ? "CrossAttnUpBlock2D" : "UpBlock2D");
        }
        String projIn = first(unet, "mid_block.attentions.0.proj_in.weight", ".proj_in.weight");
        boolean linear = unet.shape(projIn).length == 2;
        String crossKey = first(unet, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", ".attn2.to_k.weight");

        ObjectNode config = JSON.createObjectNode();
        config.put("_class_name", "UNet2DConditionModel");
        config.put("sample_size", linear && "v_prediction".equals(predictionType) ? 96 : 64);
        config.put("in_channels", dim(unet, "conv_in.weight", 1));
        config.put("out_channels", dim(unet, "conv_out.weight", 0));
        config.set("block_out_channels", blockOut);
        config.put("layers_per_block", layersPerBlock);
        config.set("down_block_types", down);
        config.put("mid_block_type", "UNetMidBlock2DCrossAttn");
        config.set("up_block_types", up);
        config.put("cross_attention_dim", dim(unet, crossKey, 1));
        // transformer blocks per level (SDXL: 1, 2, 10; levels without attention count 1), one number when all agree
        ArrayNode depths = JSON.createArrayNode();
        for (int i = 0; i < levels; i++) {
            int depth = countIndexed(unet, "down_blocks." + i + ".attentions.0.transformer_blocks.");
            depths.add(depth == 0 ? 1 : depth);
        }
        int midDepth = countIndexed(unet, "mid_block.attentions.0.transformer_blocks.");
        boolean uniform = true;
        for (int i = 0; i < levels; i++) {
            uniform &= !down.get(i).asText().equals("CrossAttnDownBlock2D") || depths.get(i).asInt() == midDepth;
        }
        if (uniform) {
            config.put("transformer_layers_per_block", midDepth);
        } else {
            config.set("transformer_layers_per_block", depths);
        }
        boolean sdxl = unet.names().contains("add_embedding.linear_1.weight");
        if (sdxl) {
            int inputs = dim(unet, "add_embedding.linear_1.weight", 1);
            int pooled = pooledDim > 0 ? pooledDim : SDXL_POOLED_DIM;
            if (inputs <= pooled || (inputs - pooled) % SDXL_TIME_IDS != 0) {
                throw new IOException(unet.description() + ": add_embedding.linear_1 takes " + inputs + " inputs, which is not "
                        + pooled + " (the pooled text embedding) plus " + SDXL_TIME_IDS + " equal time-id embeddings");
            }
            config.put("addition_embed_type", "text_time");
            config.put("addition_time_embed_dim", (inputs - pooled) / SDXL_TIME_IDS);
            config.put("projection_class_embeddings_input_dim", inputs);
            config.put("sample_size", SDXL_SAMPLE_SIZE);
        }
        if (linear) {
            // SD 2.x: 64-wide heads; diffusers' attention_head_dim holds the head COUNT per level
            ArrayNode heads = config.putArray("attention_head_dim");
            for (int channels : conv1) {
                heads.add(channels % HEAD_WIDTH == 0 ? channels / HEAD_WIDTH : 1);
            }
        } else {
            config.put("attention_head_dim", SD1_UNET_HEADS);
        }
        config.put("use_linear_projection", linear);
        config.put("upcast_attention", linear && !sdxl);
        config.put("norm_num_groups", 32);
        config.put("norm_eps", 1e-5);
        config.put("act_fn", "silu");
        config.put("flip_sin_to_cos", true);
        config.put("freq_shift", 0);
        config.put("downsample_padding", 1);
        config.put("center_input_sample", false);
        return config;
    }

    /** An {@code AutoencoderKL} config from a VAE's canonical tensors. */
    public static ObjectNode vae(TensorSource vae) throws IOException {
        int levels = countIndexed(vae, "encoder.down_blocks.");
        if (levels == 0) {
            throw new IOException(vae.description() + ": no 'encoder.down_blocks.*' tensors: not a VAE");
        }
        ObjectNode config = JSON.createObjectNode();
        config.put("_class_name", "AutoencoderKL");
        config.put("in_channels", dim(vae, "encoder.conv_in.weight", 1));
        config.put("out_channels", dim(vae, "decoder.conv_out.weight", 0));
        ArrayNode blockOut = config.putArray("block_out_channels");
        ArrayNode down = config.putArray("down_block_types");
        ArrayNode up = config.putArray("up_block_types");
        for (int i = 0; i < levels; i++) {
            blockOut.add(dim(vae, "encoder.down_blocks." + i + ".resnets.0.conv1.weight", 0));
            down.add("DownEncoderBlock2D");
            up.add("UpDecoderBlock2D");
        }
        config.put("layers_per_block", countIndexed(vae, "encoder.down_blocks.0.resnets."));
        config.put("latent_channels", dim(vae, "post_quant_conv.weight", 0));
        config.put("norm_num_groups", 32);
        config.put("act_fn", "silu");
        config.put("scaling_factor", VAE_SCALING_FACTOR);
        return config;
    }

    /** A {@code CLIPTextModel} config from a text encoder's canonical (transformers) tensors. */
    public static ObjectNode textEncoder(TensorSource text, TextEncoderKind kind) throws IOException {
        int layers = 0;
        for (String name : text.names()) {
            Matcher m = TEXT_LAYER.matcher(name);
            if (m.lookingAt()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        if (layers == 0) {
            throw new IOException(text.description() + ": no 'text_model.encoder.layers.*' tensors");
        }
        int hidden = dim(text, "text_model.embeddings.token_embedding.weight", 1);
        ObjectNode config = JSON.createObjectNode();
        config.putArray("architectures").add("CLIPTextModel");
        config.put("model_type", "clip_text_model");
        config.put("hidden_size", hidden);
        config.put("intermediate_size", dim(text, "text_model.encoder.layers.0.mlp.fc1.weight", 0));
        config.put("num_hidden_layers", layers);
        config.put("num_attention_heads", hidden % HEAD_WIDTH == 0 ? hidden / HEAD_WIDTH : 1);
        config.put("vocab_size", dim(text, "text_model.embeddings.token_embedding.weight", 0));
        config.put("max_position_embeddings", dim(text, "text_model.embeddings.position_embedding.weight", 0));
        config.put("hidden_act", kind == TextEncoderKind.CLIP ? "quick_gelu" : "gelu");
        config.put("layer_norm_eps", 1e-5);
        if (text.names().contains("text_projection.weight")) {   // SDXL's second encoder: CLIPTextModelWithProjection
            config.putArray("architectures").add("CLIPTextModelWithProjection");
            config.put("projection_dim", dim(text, "text_projection.weight", 0));
        }
        return config;
    }

    private static long[] shape(TensorSource source, String name) throws IOException {
        if (!source.names().contains(name)) {
            throw new IOException(source.description() + ": no tensor '" + name + "' to read the configuration from");
        }
        return source.shape(name);
    }

    private static int dim(TensorSource source, String name, int axis) throws IOException {
        long[] shape = shape(source, name);
        if (shape.length <= axis) {
            throw new IOException(source.description() + ": tensor '" + name + "' has rank " + shape.length
                    + ", expected at least " + (axis + 1));
        }
        return Math.toIntExact(shape[axis]);
    }

    private static boolean hasPrefix(TensorSource source, String prefix) {
        return source.names().stream().anyMatch(n -> n.startsWith(prefix));
    }

    /** Number of consecutive indices {@code prefix0.}, {@code prefix1.}, ... present. */
    private static int countIndexed(TensorSource source, String prefix) {
        int n = 0;
        while (hasPrefix(source, prefix + n + ".")) {
            n++;
        }
        return n;
    }

    /** {@code preferred} if present, else the first tensor whose name ends with {@code suffix}. */
    private static String first(TensorSource source, String preferred, String suffix) throws IOException {
        if (source.names().contains(preferred)) {
            return preferred;
        }
        return source.names().stream().filter(n -> n.endsWith(suffix)).findFirst()
                .orElseThrow(() -> new IOException(source.description() + ": no '*" + suffix
                        + "' tensor: a U-Net without cross-attention is not a Stable Diffusion U-Net"));
    }
}
