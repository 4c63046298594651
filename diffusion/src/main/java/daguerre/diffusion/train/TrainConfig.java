package daguerre.diffusion.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A training recipe, read from a JSON file ({@code train --config FILE}). Paths are relative to the
 * file's folder. The component configs are in the diffusers / transformers {@code config.json}
 * formats; the text encoder's {@code vocab_size} is taken from the learned vocabulary.
 *
 * <p>A recipe with {@code "init": MODEL_FOLDER} fine-tunes that diffusers folder instead: the
 * tokenizer, autoencoder (frozen, with its scaling factor), text encoder and U-Net all come from
 * the folder, so the recipe has no {@code vae}, {@code text_encoder}, {@code unet} or
 * {@code tokenizer} section, and only the diffusion stage runs. Those fields are then null.
 *
 * @param source the file the recipe was read from
 * @param seed the seed of every random choice (initial weights, data order, noise, timesteps)
 * @param data the training images: the emoji recipe or a folder with {@code metadata.jsonl}
 * @param init the diffusers folder a fine-tune starts from; empty when training from scratch
 * @param imageSize image side in pixels
 * @param runDir checkpoints, logs and the learned tokenizer
 * @param exportDir where the finished model is written as a diffusers folder
 * @param checkpointMinutes minutes between checkpoints (also written at the end of each stage)
 * @param maxMerges BPE merges to learn at most
 * @param vae the autoencoder's config and stage-1 settings
 * @param textEncoder the text encoder's config (vocab_size replaced)
 * @param unet the U-Net's config
 * @param diffusion stage-2 settings
 */
public record TrainConfig(Path source, long seed, DataSource data, Optional<Path> init, int imageSize, Path runDir, Path exportDir,
                          double checkpointMinutes, int maxMerges, VaeStage vae, JsonNode textEncoder, UNetConfig unet,
                          DiffusionStage diffusion) {

    /**
     * Where the images come from.
     *
     * @param objectColourRepeats for the emoji recipe, how often each object-colour emoji appears
     *     per epoch ({@code object_colour_repeats}, default 1; see {@code EmojiDataset})
     */
    public record DataSource(Kind kind, Path path, int objectColourRepeats) {
        /** The emoji recipe over fetched data, or a folder of images with captions. */
        public enum Kind { EMOJI, FOLDER }
    }

    /** Optimisation settings shared by both stages. */
    public record Optimisation(long steps, int batchSize, double learningRate, long warmupSteps, double weightDecay,
                               double emaDecay, double maxGradientNorm) {

        static Optimisation fromJson(JsonNode json, String where) {
            return new Optimisation(requiredLong(json, "steps", where), (int) requiredLong(json, "batch_size", where),
                    requiredDouble(json, "learning_rate", where), json.path("warmup_steps").asLong(0),
                    json.path("weight_decay").asDouble(0.0), json.path("ema_decay").asDouble(0.999),
                    json.path("max_grad_norm").asDouble(1.0));
        }

        /** The learning rate schedule: warm-up, then cosine down to 10% of the peak. */
        public LearningRateSchedule schedule() {
            return new LearningRateSchedule(learningRate, warmupSteps, steps, 0.1);
        }

        /** AdamW with these settings. */
        public AdamW.Settings optimiser() {
            return AdamW.Settings.standard(weightDecay, maxGradientNorm);
        }
    }

    /**
     * Stage 1: the autoencoder.
     *
     * @param model its config
     * @param klWeight weight of the KL term (per latent value) against the per-pixel reconstruction
     * @param edgeWeight weight of the L1 loss on horizontal and vertical pixel differences
     */
    public record VaeStage(VaeConfig model, Optimisation optimisation, double klWeight, double edgeWeight) {}

    /**
     * Stage 2: text encoder and U-Net on the latents.
     *
     * @param emptyCaptionRate fraction of captions replaced by the empty text, for classifier-free guidance
     */
    public record DiffusionStage(Optimisation optimisation, double emptyCaptionRate) {}

    /** Reads a recipe file; errors name the file and field. */
    public static TrainConfig load(Path file) throws IOException {
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        try {
            return fromJson(json, file.toAbsolutePath());
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** The recipe from parsed JSON; relative paths resolve against {@code source}'s folder. */
    public static TrainConfig fromJson(JsonNode json, Path source) {
        Path base = source.getParent();
        JsonNode data = required(json, "data", "recipe");
        DataSource dataSource;
        int repeats = data.path("object_colour_repeats").asInt(1);
        if (data.has("object_colour_repeats") && (!data.get("object_colour_repeats").isIntegralNumber() || repeats < 1)) {
            throw new IllegalArgumentException("data: 'object_colour_repeats' must be an integer of at least 1, got "
                    + data.get("object_colour_repeats"));
        }
        if (data.has("emoji")) {
            dataSource = new DataSource(DataSource.Kind.EMOJI, base.resolve(data.get("emoji").asText()), repeats);
        } else if (data.has("folder")) {
            if (data.has("object_colour_repeats")) {
                throw new IllegalArgumentException("data: 'object_colour_repeats' applies to the emoji recipe only");
            }
            dataSource = new DataSource(DataSource.Kind.FOLDER, base.resolve(data.get("folder").asText()), 1);
        } else {
            throw new IllegalArgumentException("'data' needs either \"emoji\": DATA_DIR or \"folder\": IMAGE_FOLDER");
        }
        JsonNode diffusion = required(json, "diffusion", "recipe");
        DiffusionStage diffusionStage = new DiffusionStage(Optimisation.fromJson(diffusion, "diffusion"),
                diffusion.path("empty_caption_rate").asDouble(0.1));
        long seed = requiredLong(json, "seed", "recipe");
        int imageSize = (int) requiredLong(json, "image_size", "recipe");
        Path runDir = base.resolve(json.path("run_dir").asText("run"));
        Path exportDir = base.resolve(json.path("export_dir").asText("model"));
        double checkpointMinutes = json.path("checkpoint_minutes").asDouble(10);
        if (json.hasNonNull("init")) {
            for (String field : new String[] {"vae", "text_encoder", "unet", "tokenizer"}) {
                if (json.has(field)) {
                    throw new IllegalArgumentException("'" + field + "' comes from the 'init' model when fine-tuning; remove it");
                }
            }
            Path init = base.resolve(json.get("init").asText());
            if (init.normalize().equals(exportDir.normalize())) {
                throw new IllegalArgumentException("'export_dir' must differ from 'init' (" + init + "): the fine-tune"
                        + " would replace the model it starts from");
            }
            return new TrainConfig(source, seed, dataSource, Optional.of(init), imageSize, runDir, exportDir, checkpointMinutes,
                    0, null, null, null, diffusionStage);
        }
        JsonNode vae = required(json, "vae", "recipe");
        JsonNode text = required(json, "text_encoder", "recipe");
        if (!text.isObject()) {
            throw new IllegalArgumentException("'text_encoder' must be a CLIPTextConfig object");
        }
        return new TrainConfig(source, seed, dataSource, Optional.empty(), imageSize, runDir, exportDir, checkpointMinutes,
                json.path("tokenizer").path("max_merges").asInt(4000),
                new VaeStage(VaeConfig.fromJson(required(vae, "model", "vae")), Optimisation.fromJson(vae, "vae"),
                        requiredDouble(vae, "kl_weight", "vae"), vae.path("edge_weight").asDouble(0)),
                text, UNetConfig.fromJson(required(json, "unet", "recipe")), diffusionStage);
    }

    /**
     * The text encoder's config for a learned vocabulary of {@code vocabSize} tokens, whose last two
     * are {@code <|startoftext|>} and {@code <|endoftext|>} (also the padding token).
     */
    public ClipTextConfig textEncoderConfig(int vocabSize) {
        ObjectNode copy = textEncoder.deepCopy();
        copy.put("vocab_size", vocabSize);
        copy.put("bos_token_id", vocabSize - 2);
        copy.put("eos_token_id", vocabSize - 1);
        copy.put("pad_token_id", vocabSize - 1);
        return ClipTextConfig.fromJson(copy);
    }

    private static JsonNode required(JsonNode json, String field, String where) {
        JsonNode value = json.get(field);
        if (value == null || value.isNull()) {
            throw new IllegalArgumentException(where + ": missing field '" + field + "'");
        }
        return value;
    }

    private static long requiredLong(JsonNode json, String field, String where) {
        JsonNode value = required(json, field, where);
        if (!value.canConvertToLong() || !value.isIntegralNumber()) {
            throw new IllegalArgumentException(where + ": field '" + field + "' must be an integer, got " + value);
        }
        return value.asLong();
    }

    private static double requiredDouble(JsonNode json, String field, String where) {
        JsonNode value = required(json, field, where);
        if (!value.isNumber()) {
            throw new IllegalArgumentException(where + ": field '" + field + "' must be a number, got " + value);
        }
        return value.asDouble();
    }
}
