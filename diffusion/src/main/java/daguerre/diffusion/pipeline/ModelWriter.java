package daguerre.diffusion.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.weights.layout.OriginalNames;
import daguerre.weights.model.TokenizerFiles;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Saves a {@link StableDiffusionModel} in the two layouts {@link StableDiffusionModel#load} reads:
 * a diffusers folder, or one original (CompVis / LDM) single {@code .safetensors} file. Weights
 * are stored as F32, F16 or BF16 (rounded to nearest even).
 *
 * <p>Each tensor's values are copied out of the engine only when the writer reaches it, so saving
 * needs no second copy of the whole model in the Java heap.
 */
public final class ModelWriter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelWriter() {}

    /**
     * Writes {@code model} as a diffusers folder: {@code model_index.json}, {@code unet/},
     * {@code vae/}, {@code text_encoder/} (config.json and weights each), {@code tokenizer/}
     * (the bundled OpenAI CLIP vocabulary with the model's padding token) and
     * {@code scheduler/scheduler_config.json}; for SDXL also {@code text_encoder_2/} and
     * {@code tokenizer_2/}, and {@code force_zeros_for_empty_prompt} in the index.
     */
    public static void writeDiffusersFolder(StableDiffusionModel model, Path folder, DType dtype) throws IOException {
        requireClipVocabulary(model);
        Files.createDirectories(folder);
        writeComponent(folder.resolve("unet"), "diffusion_pytorch_model.safetensors",
                ConfigJson.unet(model.unet().config()), lazy(canonical(model.unet()), dtype));
        writeComponent(folder.resolve("vae"), "diffusion_pytorch_model.safetensors",
                ConfigJson.vae(model.vae().config()), lazy(canonical(model.vae()), dtype));
        writeComponent(folder.resolve("text_encoder"), "model.safetensors",
                ConfigJson.textEncoder(model.textEncoder().config()),
                lazy(canonical(model.textEncoder()), dtype));
        writeTokenizer(folder.resolve("tokenizer"), model.tokenizer().padToken());
        writeJson(folder.resolve("scheduler").resolve("scheduler_config.json"), ConfigJson.scheduler(model.scheduler()));
        ObjectNode index = JSON.createObjectNode().put("_class_name", model.isSdxl() ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline");
        index.putArray("unet").add("diffusers").add("UNet2DConditionModel");
        index.putArray("vae").add("diffusers").add("AutoencoderKL");
        index.putArray("text_encoder").add("transformers").add("CLIPTextModel");
        index.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
        index.putArray("scheduler").add("diffusers").add("PNDMScheduler");
        if (model.isSdxl()) {
            StableDiffusionModel.SecondTextEncoder second = model.secondTextEncoder().orElseThrow();
            writeComponent(folder.resolve("text_encoder_2"), "model.safetensors", ConfigJson.textEncoder(second.encoder().config(), true),
                    lazy(canonical(second.encoder()), dtype));
            writeTokenizer(folder.resolve("tokenizer_2"), second.tokenizer().padToken());
            index.putArray("text_encoder_2").add("transformers").add("CLIPTextModelWithProjection");
            index.putArray("tokenizer_2").add("transformers").add("CLIPTokenizer");
            index.put("force_zeros_for_empty_prompt", second.forceZerosForEmptyPrompt());
        }
        writeJson(folder.resolve("model_index.json"), index);
    }

    /** The bundled CLIP vocabulary with {@code padToken} as a tokenizer folder. */
    private static void writeTokenizer(Path dir, String padToken) throws IOException {
        Path tokenizer = TokenizerFiles.bundledClip(padToken).copyTo(dir);
        ObjectNode special = JSON.createObjectNode()
                .put("bos_token", "<|startoftext|>")
                .put("eos_token", "<|endoftext|>")
                .put("unk_token", "<|endoftext|>")
                .put("pad_token", padToken);
        writeJson(tokenizer.resolve("special_tokens_map.json"), special);
    }

    /**
     * Writes {@code model} as one original SD 1.x single file: {@code model.diffusion_model.*},
     * {@code first_stage_model.*} (mid-block attention projections as 1x1 convolutions) and
     * {@code cond_stage_model.transformer.*}, named by {@link OriginalNames}. Such a file carries no
     * configs, tokenizer or scheduler: a loader infers the configs from shapes, following SD 1.x
     * conventions (8 U-Net heads, 64-wide text heads), so only models that follow them load back
     * as they were.
     *
     * @throws IllegalArgumentException for a model whose text encoder is not SD 1.x's CLIP
     *     (quick_gelu): the SD 2.x OpenCLIP layout is not written
     */
    public static void writeSingleFile(StableDiffusionModel model, Path file, DType dtype) throws IOException {
        if (model.isSdxl()) {
            writeSdxlSingleFile(model, file, dtype);
            return;
        }
        if (model.textEncoder().config().hiddenAct() != ClipTextConfig.Activation.QUICK_GELU) {
            throw new IllegalArgumentException("only SD 1.x models (CLIP text encoder with quick_gelu) can be written as an "
                    + "original single file; this one uses " + model.textEncoder().config().hiddenAct().configName());
        }
        requireClipVocabulary(model);
        List<Stored> all = new ArrayList<>();
        all.addAll(stored(model.unet(), OriginalNames.unet(model.unet().namedParameters().keySet()), (key, shape) -> shape));
        all.addAll(stored(model.vae(), OriginalNames.vae(model.vae().namedParameters().keySet()),
                OriginalNames::vaeOriginalShape));
        all.addAll(stored(model.textEncoder(), OriginalNames.clipText(model.textEncoder().namedParameters().keySet()),
                (key, shape) -> shape));
        Files.createDirectories(file.toAbsolutePath().getParent());
        SafetensorsWriter.write(file, lazy(all, dtype));
    }

    /**
     * Writes an SDXL {@code model} as one SGM single file: {@code model.diffusion_model.*} (with
     * {@code label_emb.0.*}), {@code first_stage_model.*}, {@code conditioner.embedders.0.transformer.*}
     * (encoder 1 under its transformers names) and {@code conditioner.embedders.1.model.*} (encoder 2 in
     * OpenCLIP form: q, k and v fused into {@code attn.in_proj_*}, {@code text_projection} transposed).
     * A loader infers the configs from shapes, following SDXL's conventions (64-wide heads), so only
     * models that follow them load back as they were.
     */
    private static void writeSdxlSingleFile(StableDiffusionModel model, Path file, DType dtype) throws IOException {
        requireClipVocabulary(model);
        List<Stored> all = new ArrayList<>();
        all.addAll(stored(model.unet(), OriginalNames.unet(model.unet().namedParameters().keySet()), (key, shape) -> shape));
        all.addAll(stored(model.vae(), OriginalNames.vae(model.vae().namedParameters().keySet()),
                OriginalNames::vaeOriginalShape));
        all.addAll(stored(model.textEncoder(), OriginalNames.sdxlClipText(model.textEncoder().namedParameters().keySet()),
                (key, shape) -> shape));
        Map<String, Parameter> encoder2 = model.secondTextEncoder().orElseThrow().encoder().namedParameters();
        for (OriginalNames.OpenClipTensor tensor : OriginalNames.sdxlOpenClipText(encoder2.keySet())) {
            List<Parameter> parts = tensor.canonicalParts().stream().map(encoder2::get).toList();
            long[] first = parts.get(0).shape().getShape();
            if (tensor.transposed()) {   // [P, D] -> [D, P]
                all.add(new Stored(tensor.original(), new long[] {first[1], first[0]},
                        () -> transpose(parts.get(0).floats(), (int) first[0], (int) first[1])));
            } else {   // rows one after another: [3D, D] from three [D, D]
                long[] shape = first.clone();
                shape[0] *= parts.size();
                all.add(new Stored(tensor.original(), shape, () -> {
                    float[][] values = parts.stream().map(Parameter::floats).toArray(float[][]::new);
                    float[] out = new float[java.util.Arrays.stream(values).mapToInt(v -> v.length).sum()];
                    int at = 0;
                    for (float[] v : values) {
                        System.arraycopy(v, 0, out, at, v.length);
                        at += v.length;
                    }
                    return out;
                }));
            }
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        SafetensorsWriter.write(file, lazy(all, dtype));
    }

    /** A row-major [rows, cols] matrix as [cols, rows]. */
    private static float[] transpose(float[] values, int rows, int cols) {
        float[] out = new float[values.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = values[r * cols + c];
            }
        }
        return out;
    }

    private static void requireClipVocabulary(StableDiffusionModel model) {
        int vocab = Math.min(model.tokenizer().vocabSize(),
                model.secondTextEncoder().map(second -> second.tokenizer().vocabSize()).orElse(ModelPreset.CLIP_VOCAB_SIZE));
        if (vocab != ModelPreset.CLIP_VOCAB_SIZE) {
            throw new IllegalArgumentException("the model's tokenizer has " + vocab + " tokens; only the OpenAI CLIP vocabulary ("
                    + ModelPreset.CLIP_VOCAB_SIZE + " tokens), which is bundled, can be written");
        }
    }

    private static void writeComponent(Path dir, String weightsFile, ObjectNode config, List<Tensor> tensors) throws IOException {
        Files.createDirectories(dir);
        writeJson(dir.resolve("config.json"), config);
        SafetensorsWriter.write(dir.resolve(weightsFile), tensors);
    }

    private static void writeJson(Path file, ObjectNode json) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
    }

    /** One tensor as it is stored: its name and shape in the file, and where its values come from. */
    private record Stored(String name, long[] shape, java.util.function.Supplier<float[]> values) {}

    /** The module's parameters under their canonical names and shapes. */
    private static List<Stored> canonical(Module module) {
        return stored(module, Map.of(), (key, shape) -> shape);
    }

    /** The module's parameters named by {@code names} (canonical key -> stored name), shaped by {@code reshape}. */
    private static List<Stored> stored(Module module, Map<String, String> names, BiFunction<String, long[], long[]> reshape) {
        List<Stored> out = new ArrayList<>();
        module.namedParameters().forEach((key, parameter) -> out.add(new Stored(names.getOrDefault(key, key),
                reshape.apply(key, parameter.shape().getShape()), parameter::floats)));
        return out;
    }

    /** Tensors to write, as a view: each element copies its values out of the engine when the writer reads it. */
    private static List<Tensor> lazy(List<Stored> stored, DType dtype) {
        return new AbstractList<>() {
            @Override
            public Tensor get(int index) {
                Stored s = stored.get(index);
                return Tensor.of(s.name(), dtype, s.shape(), s.values().get());
            }

            @Override
            public int size() {
                return stored.size();
            }
        };
    }
}
