package daguerre.diffusion.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The options of a transformers {@code CLIPTextConfig} ({@code text_encoder/config.json}) that SD 1.x/2.x use.
 *
 * @param hiddenAct {@code quick_gelu} for SD 1.x (OpenAI CLIP), {@code gelu} (exact erf GELU) for SD 2.x (OpenCLIP)
 * @param bosTokenId, eosTokenId, padTokenId as stored in the config (transformers defaults 49406, 49407, 1
 *     when absent); {@code eosTokenId == 2} selects transformers' legacy pooling (argmax of the ids)
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, Activation hiddenAct, float layerNormEps,
                             int bosTokenId, int eosTokenId, int padTokenId) {

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
            throw new IllegalArgumentException("unsupported hidden_act '" + name + "' (supported: quick_gelu, gelu)");
        }
    }

    public ClipTextConfig {
        if (hiddenSize <= 0 || numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " must be a positive multiple of num_attention_heads "
                    + numAttentionHeads);
        }
        if (vocabSize <= 0 || intermediateSize <= 0 || numHiddenLayers <= 0 || maxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException("vocab_size, intermediate_size, num_hidden_layers and max_position_embeddings must be"
                    + " positive: " + vocabSize + ", " + intermediateSize + ", " + numHiddenLayers + ", " + maxPositionEmbeddings);
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
        }
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

    /** Builds the config from a parsed {@code config.json}. */
    public static ClipTextConfig fromJson(JsonNode json) {
        return new ClipTextConfig(
                requiredInt(json, "vocab_size"),
                requiredInt(json, "hidden_size"),
                requiredInt(json, "intermediate_size"),
                requiredInt(json, "num_hidden_layers"),
                requiredInt(json, "num_attention_heads"),
                requiredInt(json, "max_position_embeddings"),
                Activation.fromConfig(json.path("hidden_act").asText("quick_gelu")),
                (float) json.path("layer_norm_eps").asDouble(1e-5),
                optionalInt(json, "bos_token_id", 49406),
                optionalInt(json, "eos_token_id", 49407),
                optionalInt(json, "pad_token_id", 1));
    }

    private static int requiredInt(JsonNode json, String field) {
        JsonNode value = json.get(field);
        if (value == null || !value.isIntegralNumber() || !value.canConvertToInt()) {
            throw new IllegalArgumentException("config field '" + field + "' is missing or not an integer: " + value);
        }
        return value.asInt();
    }

    private static int optionalInt(JsonNode json, String field, int fallback) {
        JsonNode value = json.get(field);
        return value == null || value.isNull() ? fallback : value.asInt();
    }
}
