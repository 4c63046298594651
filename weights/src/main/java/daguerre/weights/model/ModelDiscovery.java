package daguerre.weights.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.weights.TensorSource;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.model.ConfigInference.TextEncoderKind;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.UnsafeCheckpointException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds a Stable Diffusion 1.x / 2.x model at a path: a diffusers folder or one original
 * single-file {@code .safetensors} checkpoint. Pickle-based checkpoints are refused.
 *
 * <p>Prediction type, first that applies: the explicit override; a folder's
 * {@code scheduler/scheduler_config.json} {@code prediction_type}; a single file's sidecar
 * {@code <name>.yaml} ({@code parameterization: "v"} means {@code v_prediction}); else {@code epsilon}.
 */
public final class ModelDiscovery {

    /** The prediction types Daguerre's samplers handle. */
    public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction");

    /** Weight file names in a diffusers component folder, in order of preference. */
    private static final List<String> WEIGHT_FILES = List.of(
            "diffusion_pytorch_model.safetensors", "model.safetensors",
            "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors");

    private static final Pattern V_PARAMETERIZATION =
            Pattern.compile("(?m)^\\s*parameterization\\s*:\\s*[\"']?v[\"']?\\s*(#.*)?$");
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelDiscovery() {}

    /** Opens the model at {@code path}, detecting its prediction type. */
    public static DiscoveredModel open(Path path) throws IOException {
        return open(path, null);
    }

    /**
     * Opens the model at {@code path}.
     *
     * @param predictionType {@code epsilon} or {@code v_prediction} to override what the model's
     *     files say, or {@code null} to detect it
     */
    public static DiscoveredModel open(Path path, String predictionType) throws IOException {
        if (predictionType != null && !PREDICTION_TYPES.contains(predictionType)) {
            throw new IllegalArgumentException("prediction type '" + predictionType + "' is not one of " + PREDICTION_TYPES);
        }
        if (Files.isDirectory(path)) {
            return openFolder(path, predictionType);
        }
        if (!Files.exists(path)) {
            throw new FileNotFoundException(path + ": no such model file or folder");
        }
        return openSingleFile(path, predictionType);
    }

    // ---------------------------------------------------------------- diffusers folder

    private static DiscoveredModel openFolder(Path folder, String predictionOverride) throws IOException {
        if (!Files.isRegularFile(folder.resolve("model_index.json"))) {
            throw new FileNotFoundException(folder + ": not a diffusers model folder (no model_index.json); "
                    + "give a diffusers folder or a single .safetensors checkpoint");
        }
        Path indexFile = folder.resolve("model_index.json");
        JsonNode index = readJson(indexFile);
        checkModelIndex(indexFile, index);
        boolean sdxl = isSdxl(indexFile, index);
        List<AutoCloseable> open = new ArrayList<>();
        try {
            Path unetWeights = weightsFile(folder.resolve("unet"));
            ModelComponent unet = folderComponent(folder.resolve("unet"), unetWeights, open);
            ModelComponent vae = folderComponent(folder.resolve("vae"), weightsFile(folder.resolve("vae")), open);
            ModelComponent text = folderComponent(folder.resolve("text_encoder"),
                    weightsFile(folder.resolve("text_encoder")), open);
            TokenizerFiles tokenizer = TokenizerFiles.folder(folder.resolve("tokenizer"));
            DiscoveredModel.SecondTextEncoder second = null;
            if (sdxl) {
                ModelComponent text2 = folderComponent(folder.resolve("text_encoder_2"),
                        weightsFile(folder.resolve("text_encoder_2")), open);
                JsonNode forceZeros = index.get("force_zeros_for_empty_prompt");
                if (forceZeros != null && !forceZeros.isNull() && !forceZeros.isBoolean()) {
                    throw new IOException(indexFile + ": force_zeros_for_empty_prompt must be true or false, got " + forceZeros);
                }
                // diffusers' StableDiffusionXLPipeline defaults it to true (SDXL base's setting)
                second = new DiscoveredModel.SecondTextEncoder(text2, TokenizerFiles.folder(folder.resolve("tokenizer_2")),
                        forceZeros == null || forceZeros.isNull() || forceZeros.booleanValue());
            }
            Path schedulerFile = folder.resolve("scheduler").resolve("scheduler_config.json");
            JsonNode scheduler = Files.isRegularFile(schedulerFile) ? readJson(schedulerFile) : null;
            String prediction = predictionOverride;
            if (prediction == null) {
                prediction = scheduler != null && scheduler.hasNonNull("prediction_type")
                        ? scheduler.get("prediction_type").asText() : "epsilon";
                if (!PREDICTION_TYPES.contains(prediction)) {
                    throw new IOException(schedulerFile + ": prediction_type '" + prediction
                            + "' is not one of " + PREDICTION_TYPES);
                }
            }
            return new DiscoveredModel(nameOf(folder), folder, DiscoveredModel.Format.DIFFUSERS_FOLDER,
                    unet, vae, text, tokenizer, second, scheduler, prediction, unetWeights, open);
        } catch (IOException | RuntimeException e) {
            closeAll(open, e);
            throw e;
        }
    }

    /**
     * The component classes a Stable Diffusion 1.x/2.x or SDXL {@code model_index.json} may name; an
     * entry that is present must be a {@code [library, class]} pair naming one of them (absent entries
     * are allowed).
     */
    static final Map<String, Set<String>> INDEX_CLASSES = Map.of(
            "unet", Set.of("UNet2DConditionModel"),
            "vae", Set.of("AutoencoderKL"),
            "text_encoder", Set.of("CLIPTextModel"),
            "tokenizer", Set.of("CLIPTokenizer", "CLIPTokenizerFast"),
            "text_encoder_2", Set.of("CLIPTextModelWithProjection"),
            "tokenizer_2", Set.of("CLIPTokenizer", "CLIPTokenizerFast"));

    /** SDXL pipeline classes; a folder naming one must have SDXL's second text encoder. */
    static final Set<String> SDXL_PIPELINES = Set.of("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline");

    /**
     * Whether the folder is an SDXL model: it names a second text encoder. The SDXL refiner (a second
     * text encoder and no first) is refused: it is not supported.
     */
    private static boolean isSdxl(Path file, JsonNode index) throws IOException {
        JsonNode pipeline = index.get("_class_name");
        String name = pipeline != null && pipeline.isTextual() ? pipeline.textValue() : null;
        boolean second = named(index, "text_encoder_2");
        if (second && !named(index, "text_encoder")) {
            throw new IOException(file + ": a model with text_encoder_2 and no text_encoder is the SDXL refiner, which is not"
                    + " supported; load SDXL base or a fine-tune of it");
        }
        if (SDXL_PIPELINES.contains(name) && !second) {
            throw new IOException(file + ": an SDXL pipeline (" + name + ") needs text_encoder_2 and tokenizer_2");
        }
        if (second && !named(index, "tokenizer_2")) {
            throw new IOException(file + ": text_encoder_2 needs tokenizer_2");
        }
        return second;
    }

    /** Whether {@code model_index.json} names a component (a [library, class] pair, not [null, null]). */
    private static boolean named(JsonNode index, String component) {
        JsonNode entry = index.get(component);
        return entry != null && entry.isArray() && entry.size() == 2 && entry.get(1).isTextual();
    }

    private static void checkModelIndex(Path file, JsonNode index) throws IOException {
        for (Map.Entry<String, Set<String>> e : new TreeMap<>(INDEX_CLASSES).entrySet()) {
            JsonNode entry = index.get(e.getKey());
            if (entry == null || entry.isNull() || entry.isArray() && entry.size() == 2 && entry.get(0).isNull() && entry.get(1).isNull()) {
                continue;   // absent, or [null, null] as diffusers writes an unused component
            }
            if (!entry.isArray() || entry.size() != 2 || !entry.get(0).isTextual() || !entry.get(1).isTextual()) {
                throw new IOException(file + ": " + e.getKey() + " must be a [library, class] pair of strings, got " + entry);
            }
            String className = entry.get(1).textValue();
            if (!e.getValue().contains(className)) {
                throw new IOException(file + ": " + e.getKey() + " class " + className + " is not supported (supported: "
                        + String.join(", ", new TreeSet<>(e.getValue())) + "; only Stable Diffusion 1.x/2.x and SDXL)");
            }
        }
    }

    private static ModelComponent folderComponent(Path dir, Path weights, List<AutoCloseable> open) throws IOException {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new FileNotFoundException(dir + ": component folder has no config.json");
        }
        JsonNode json = readJson(config);
        SafetensorsFile file = SafetensorsFile.open(weights);
        open.add(file);
        return new ModelComponent(file, json);
    }

    /**
     * The {@code .safetensors} weights of a component folder (full precision preferred over the
     * {@code .fp16} variant); a folder with only pickle weights ({@code .bin}) is refused.
     */
    static Path weightsFile(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new FileNotFoundException(dir + ": component folder is missing");
        }
        for (String name : WEIGHT_FILES) {
            Path candidate = dir.resolve(name);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.sorted().toList();
        }
        for (Path file : files) {
            if (UnsafeCheckpointException.hasPickleExtension(file)) {
                throw UnsafeCheckpointException.pickleOnly(dir, file);
            }
        }
        throw new FileNotFoundException(dir + ": no weights file (looked for " + String.join(", ", WEIGHT_FILES) + ")");
    }

    // ---------------------------------------------------------------- single file

    private static DiscoveredModel openSingleFile(Path file, String predictionOverride) throws IOException {
        SafetensorsFile checkpoint = SafetensorsFile.open(file);
        try {
            requirePrefix(checkpoint, OriginalLayouts.UNET_PREFIX, "U-Net");
            requirePrefix(checkpoint, OriginalLayouts.VAE_PREFIX, "VAE");
            String prediction = predictionOverride != null ? predictionOverride : sidecarPredictionType(file);

            TensorSource unetView = OriginalLayouts.unet(checkpoint);
            TensorSource vaeView = OriginalLayouts.vae(checkpoint);
            if (OriginalLayouts.hasPrefix(checkpoint, OriginalLayouts.SDXL_CLIP_TEXT_PREFIX)
                    || OriginalLayouts.hasPrefix(checkpoint, OriginalLayouts.SDXL_OPEN_CLIP_TEXT_PREFIX)) {
                return openSdxlSingleFile(file, checkpoint, unetView, vaeView, prediction);
            }
            ModelComponent unet = new ModelComponent(unetView, ConfigInference.unet(unetView, prediction));
            ModelComponent vae = new ModelComponent(vaeView, ConfigInference.vae(vaeView));

            ModelComponent text;
            TokenizerFiles tokenizer;
            if (OriginalLayouts.hasPrefix(checkpoint, OriginalLayouts.CLIP_TEXT_PREFIX)) {
                TensorSource view = OriginalLayouts.clipText(checkpoint);
                text = new ModelComponent(view, ConfigInference.textEncoder(view, TextEncoderKind.CLIP));
                tokenizer = TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN);
            } else if (OriginalLayouts.hasPrefix(checkpoint, OriginalLayouts.OPEN_CLIP_TEXT_PREFIX)) {
                // SD 2.x conditions on the penultimate OpenCLIP block: the last one is not loaded
                int layers = OriginalLayouts.openClipResblocks(checkpoint) - 1;
                TensorSource view = OriginalLayouts.openClipText(checkpoint, layers);
                text = new ModelComponent(view, ConfigInference.textEncoder(view, TextEncoderKind.OPEN_CLIP));
                tokenizer = TokenizerFiles.bundledClip(TokenizerFiles.SD2_PAD_TOKEN);
            } else {
                throw new IOException(file + ": no text encoder (neither '" + OriginalLayouts.CLIP_TEXT_PREFIX
                        + "*' nor '" + OriginalLayouts.OPEN_CLIP_TEXT_PREFIX + "*' tensors)");
            }
            return new DiscoveredModel(stripExtension(nameOf(file)), file,
                    DiscoveredModel.Format.SINGLE_FILE, unet, vae, text, tokenizer, null, null, prediction, file,
                    List.of(checkpoint));
        } catch (IOException | RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * An SGM (Stability's generative-models) SDXL single file: {@code conditioner.embedders.0.transformer.*}
     * (CLIP ViT-L, transformers names) and {@code conditioner.embedders.1.model.*} (OpenCLIP ViT-bigG with
     * its projection). Both tokenizers are the bundled CLIP vocabulary, the second padding with {@code !};
     * the VAE is scaled by SDXL's 0.13025; an empty negative prompt conditions on zeros, as SDXL base's.
     */
    private static DiscoveredModel openSdxlSingleFile(Path file, SafetensorsFile checkpoint, TensorSource unetView,
                                                      TensorSource vaeView, String prediction) throws IOException {
        for (String prefix : List.of(OriginalLayouts.SDXL_CLIP_TEXT_PREFIX, OriginalLayouts.SDXL_OPEN_CLIP_TEXT_PREFIX)) {
            if (!OriginalLayouts.hasPrefix(checkpoint, prefix)) {
                throw new IOException(file + ": an SDXL checkpoint needs both text encoders; no '" + prefix + "*' tensors"
                        + (prefix.equals(OriginalLayouts.SDXL_CLIP_TEXT_PREFIX) ? " (a file with only the second is the SDXL"
                        + " refiner, which is not supported)" : ""));
            }
        }
        TensorSource textView = OriginalLayouts.clipText(checkpoint, OriginalLayouts.SDXL_CLIP_TEXT_PREFIX);
        ModelComponent text = new ModelComponent(textView, ConfigInference.textEncoder(textView, TextEncoderKind.CLIP));
        TensorSource text2View = OriginalLayouts.sdxlOpenClipText(checkpoint);
        ModelComponent text2 = new ModelComponent(text2View, ConfigInference.textEncoder(text2View, TextEncoderKind.OPEN_CLIP));
        int pooled = text2.config().path("projection_dim").asInt(0);
        ModelComponent unet = new ModelComponent(unetView, ConfigInference.unet(unetView, prediction, pooled));
        ModelComponent vae = new ModelComponent(vaeView, ConfigInference.vae(vaeView).put("scaling_factor",
                ConfigInference.SDXL_VAE_SCALING_FACTOR));
        DiscoveredModel.SecondTextEncoder second = new DiscoveredModel.SecondTextEncoder(text2,
                TokenizerFiles.bundledClip(TokenizerFiles.SD2_PAD_TOKEN), true);
        return new DiscoveredModel(stripExtension(nameOf(file)), file, DiscoveredModel.Format.SINGLE_FILE, unet, vae, text,
                TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN), second, null, prediction, file, List.of(checkpoint));
    }

    private static void requirePrefix(SafetensorsFile file, String prefix, String component) throws IOException {
        if (!OriginalLayouts.hasPrefix(file, prefix)) {
            throw new IOException(file.path() + ": no " + component + " ('" + prefix + "*' tensors): not an original "
                    + "Stable Diffusion single-file checkpoint");
        }
    }

    /**
     * The prediction type a single file's sidecar yaml ({@code model.yaml} beside
     * {@code model.safetensors}) declares: {@code parameterization: "v"} means {@code v_prediction};
     * no sidecar, or any other value, means {@code epsilon}.
     */
    static String sidecarPredictionType(Path file) throws IOException {
        Path yaml = file.resolveSibling(stripExtension(file.getFileName().toString()) + ".yaml");
        if (!Files.isRegularFile(yaml)) {
            return "epsilon";
        }
        String text = Files.readString(yaml, StandardCharsets.UTF_8);
        Matcher m = V_PARAMETERIZATION.matcher(text);
        return m.find() ? "v_prediction" : "epsilon";
    }

    private static String nameOf(Path path) {
        Path name = path.toAbsolutePath().normalize().getFileName();
        return name == null ? path.toString() : name.toString();
    }

    private static String stripExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static JsonNode readJson(Path path) throws IOException {
        try {
            JsonNode node = JSON.readTree(path.toFile());
            if (node == null || !node.isObject()) {
                throw new IOException(path + ": not a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new IOException(path + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static void closeAll(List<AutoCloseable> open, Exception cause) {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception suppressed) {
                cause.addSuppressed(suppressed);
            }
        }
    }
}
