package daguerre.weights.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A Stable Diffusion (1.x/2.x or SDXL) model found by {@link ModelDiscovery}: each component's
 * canonical tensors and config, the tokenizer files, the scheduler config and prediction type. Holds the weight files
 * open (memory-mapped lazily) until {@link #close()}.
 */
public final class DiscoveredModel implements AutoCloseable {

    /** How the model is stored. */
    public enum Format {
        /** A diffusers folder ({@code model_index.json}, {@code unet/}, {@code vae/}, ...). */
        DIFFUSERS_FOLDER,
        /** One original (CompVis/LDM) {@code .safetensors} file. */
        SINGLE_FILE
    }

    /** The model family: which pipeline the components make. */
    public enum Family {
        /** Stable Diffusion 1.x/2.x: one CLIP text encoder. */
        SD,
        /** SDXL: two text encoders (the second with a projection), micro-conditioning in the U-Net. */
        SDXL
    }

    /**
     * SDXL's second text encoder ({@code CLIPTextModelWithProjection}) and its tokenizer, and whether
     * an empty negative prompt conditions on zeros ({@code force_zeros_for_empty_prompt}).
     */
    public record SecondTextEncoder(ModelComponent encoder, TokenizerFiles tokenizer, boolean forceZerosForEmptyPrompt) {}

    private final String id;
    private final Path path;
    private final Format format;
    private final ModelComponent unet;
    private final ModelComponent vae;
    private final ModelComponent textEncoder;
    private final TokenizerFiles tokenizer;
    private final SecondTextEncoder secondTextEncoder;
    private final JsonNode schedulerConfig;
    private final String predictionType;
    private final Path hashedFile;
    private final List<AutoCloseable> openFiles;

    DiscoveredModel(String id, Path path, Format format, ModelComponent unet, ModelComponent vae,
                    ModelComponent textEncoder, TokenizerFiles tokenizer, SecondTextEncoder secondTextEncoder,
                    JsonNode schedulerConfig, String predictionType, Path hashedFile, List<AutoCloseable> openFiles) {
        this.id = id;
        this.path = path;
        this.format = format;
        this.unet = unet;
        this.vae = vae;
        this.textEncoder = textEncoder;
        this.tokenizer = tokenizer;
        this.secondTextEncoder = secondTextEncoder;
        this.schedulerConfig = schedulerConfig;
        this.predictionType = predictionType;
        this.hashedFile = hashedFile;
        this.openFiles = List.copyOf(openFiles);
    }

    /** SDXL when the model has a second text encoder, else SD 1.x/2.x. */
    public Family family() {
        return secondTextEncoder == null ? Family.SD : Family.SDXL;
    }

    /** SDXL's second text encoder and tokenizer; empty for SD 1.x/2.x. */
    public Optional<SecondTextEncoder> secondTextEncoder() {
        return Optional.ofNullable(secondTextEncoder);
    }

    /** The model id: the folder name, or the file name without its extension. */
    public String id() {
        return id;
    }

    /** The folder or file the model was found at. */
    public Path path() {
        return path;
    }

    public Format format() {
        return format;
    }

    /** The U-Net: diffusers {@code UNet2DConditionModel} names and config. */
    public ModelComponent unet() {
        return unet;
    }

    /** The VAE: diffusers {@code AutoencoderKL} names and config. */
    public ModelComponent vae() {
        return vae;
    }

    /** The text encoder: transformers {@code CLIPTextModel} names and config. */
    public ModelComponent textEncoder() {
        return textEncoder;
    }

    /** The tokenizer files (the folder's, or the bundled CLIP vocabulary for a single file). */
    public TokenizerFiles tokenizer() {
        return tokenizer;
    }

    /**
     * The folder's {@code scheduler/scheduler_config.json}; empty for a single file, in which case
     * the caller uses the SD 1.5 scheduler defaults (with {@link #predictionType()}).
     */
    public Optional<JsonNode> schedulerConfig() {
        return Optional.ofNullable(schedulerConfig);
    }

    /** {@code epsilon} or {@code v_prediction}. */
    public String predictionType() {
        return predictionType;
    }

    /**
     * The file whose SHA-256 identifies the model as A1111 shows it: the single file itself, or a
     * folder's U-Net weights file (see {@link ModelHasher}).
     */
    public Path hashedFile() {
        return hashedFile;
    }

    /** Closes the weight files; the components' tensor sources cannot be read afterwards. */
    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (AutoCloseable file : openFiles) {
            try {
                file.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IOException(path + ": closing the weight files failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return id + " (" + family() + ", " + format + ", " + predictionType + ", " + path + ")";
    }
}
