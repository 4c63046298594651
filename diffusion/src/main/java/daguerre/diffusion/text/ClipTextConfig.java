package daguerre.diffusion.text;

import static daguerre.diffusion.nn.ConfigReader.checkDivides;
import static daguerre.diffusion.nn.ConfigReader.checkPositiveFinite;
import static daguerre.diffusion.nn.ConfigReader.checkRange;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.ConfigReader;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The options of a transformers {@code CLIPTextConfig} ({@code text_encoder/config.json},
 * {@code text_encoder_2/config.json}) that SD 1.x/2.x and SDXL use.
 *
 * @param hiddenAct {@code quick_gelu} for SD 1.x (OpenAI CLIP), {@code gelu} (exact erf GELU) for SD 2.x (OpenCLIP)
 * @param bosTokenId, eosTokenId, padTokenId as stored in the config (transformers defaults 49406, 49407, 1
 *     when absent); {@code eosTokenId == 2} selects transformers' legacy pooling (argmax of the ids)
 * @param projectionDim width of {@code text_projection} in a {@link ClipTextModelWithProjection} (SDXL's
 *     {@code text_encoder_2}: 1280); transformers' default 512 when absent; unused by {@link ClipTextModel}
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, Activation hiddenAct, float layerNormEps,
                             int bosTokenId, int eosTokenId, int padTokenId, int projectionDim) {

    /** transformers' {@code CLIPTextConfig.projection_dim} default. */
    public static final int DEFAULT_PROJECTION_DIM = 512;

    /** A config with the default {@code projection_dim} (for models without a text projection). */
    public ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                          int numAttentionHeads, int maxPositionEmbeddings, Activation hiddenAct, float layerNormEps,
                          int bosTokenId, int eosTokenId, int padTokenId) {
        this(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, maxPositionEmbeddings,
                hiddenAct, layerNormEps, bosTokenId, eosTokenId, padTokenId, DEFAULT_PROJECTION_DIM);
    }

    /** The MLP activations CLIP text encoders use. */
    public enum Activation {
        /** x * sigmoid(1.702 x), OpenAI CLIP (SD 1.x). */
        QUICK_GELU("quick_gelu"),
        /** 0.5 x (1 + erf(x / sqrt 2)), OpenCLIP (SD 2.x). */
        GELU("gelu");

        private final String configName;

        Activation(String configName) {
            this.configName = configName;
        }

        public String configName() {
            return configName;
        }

        static Activation fromConfig(String name) {
            for (Activation a : values()) {
                if (a.configName.equals(name)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("text encoder config: unsupported hidden_act '" + name + "' (supported: quick_gelu, gelu)");
        }
    }

    /** Sane upper bounds (SD 2.x's OpenCLIP-H: 1024 hidden, 4096 intermediate, 23 layers, 77 positions). */
    static final int MAX_VOCAB = 1_000_000;
    static final int MAX_WIDTH = 65536;
    static final int MAX_LAYERS = 256;
    static final int MAX_POSITIONS = 8192;

    public ClipTextConfig {
        String what = "text encoder config";
        checkRange(what, "vocab_size", vocabSize, 1, MAX_VOCAB);
        checkRange(what, "hidden_size", hiddenSize, 1, MAX_WIDTH);
        checkRange(what, "intermediate_size", intermediateSize, 1, MAX_WIDTH);
        checkRange(what, "num_hidden_layers", numHiddenLayers, 1, MAX_LAYERS);
        checkRange(what, "num_attention_heads", numAttentionHeads, 1, hiddenSize);
        checkDivides(what, "hidden_size", hiddenSize, "num_attention_heads", numAttentionHeads);
        checkRange(what, "max_position_embeddings", maxPositionEmbeddings, 2, MAX_POSITIONS);
        checkPositiveFinite(what, "layer_norm_eps", layerNormEps, 1);
        checkRange(what, "bos_token_id", bosTokenId, 0, vocabSize - 1L);
        checkRange(what, "eos_token_id", eosTokenId, 0, vocabSize - 1L);
        checkRange(what, "pad_token_id", padTokenId, 0, vocabSize - 1L);
        checkRange(what, "projection_dim", projectionDim, 1, MAX_WIDTH);
    }

    /** Size of one attention head: hidden_size / num_attention_heads. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Reads a {@code config.json}; a missing or malformed required field fails naming the field and file. */
    public static ClipTextConfig load(Path configJson) throws IOException {
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(configJson.toFile());
        } catch (IOException e) {
            throw new IOException(configJson + ": not valid JSON: " + e.getMessage(), e);
        }
        try {
            return fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new IOException(configJson + ": " + e.getMessage(), e);
        }
    }

    /** Builds the config from a parsed {@code config.json}; every error names the field and its value. */
    public static ClipTextConfig fromJson(JsonNode json) {
        ConfigReader in = new ConfigReader(json, "text encoder config");
        return new ClipTextConfig(
                in.requiredInteger("vocab_size"),
                in.requiredInteger("hidden_size"),
                in.requiredInteger("intermediate_size"),
                in.requiredInteger("num_hidden_layers"),
                in.requiredInteger("num_attention_heads"),
                in.requiredInteger("max_position_embeddings"),
                Activation.fromConfig(in.string("hidden_act", "quick_gelu")),
                (float) in.number("layer_norm_eps", 1e-5),
                in.integer("bos_token_id", 49406),
                in.integer("eos_token_id", 49407),
                in.integer("pad_token_id", 1),
                in.integer("projection_dim", DEFAULT_PROJECTION_DIM));
    }
}
