package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.ConfigJson;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes trained weights as a diffusers folder that {@code StableDiffusionModel.load} reads exactly
 * like an SD 1.5 folder: {@code model_index.json}, {@code unet/}, {@code vae/}, {@code text_encoder/}
 * (config.json + safetensors each), {@code tokenizer/} (the learned vocabulary) and
 * {@code scheduler/scheduler_config.json}. The folder is assembled beside the target and renamed
 * into place, replacing an older export.
 */
public final class DiffusersExport {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The weights and configs of the three networks. */
    public record Components(UNetConfig unetConfig, Map<String, NDArray> unet, VaeConfig vaeConfig, Map<String, NDArray> vae,
                             ClipTextConfig textConfig, Map<String, NDArray> textEncoder, Path tokenizerFolder,
                             SchedulerConfig scheduler) {}

    private DiffusersExport() {}

    /** Writes {@code components} into {@code folder} with weights of {@code dtype}. */
    public static void write(Components components, Path folder, DType dtype) throws IOException {
        Path target = folder.toAbsolutePath();
        Path temp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Checkpoint.deleteRecursively(temp);
        Files.createDirectories(temp);
        writeComponent(temp.resolve("unet"), "diffusion_pytorch_model.safetensors", ConfigJson.unet(components.unetConfig()),
                components.unet(), dtype);
        writeComponent(temp.resolve("vae"), "diffusion_pytorch_model.safetensors", ConfigJson.vae(components.vaeConfig()),
                components.vae(), dtype);
        writeComponent(temp.resolve("text_encoder"), "model.safetensors", ConfigJson.textEncoder(components.textConfig()),
                components.textEncoder(), dtype);
        Path tokenizer = Files.createDirectories(temp.resolve("tokenizer"));
        for (String file : new String[] {"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"}) {
            Files.copy(components.tokenizerFolder().resolve(file), tokenizer.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        Files.createDirectories(temp.resolve("scheduler"));
        writeJson(temp.resolve("scheduler").resolve("scheduler_config.json"), ConfigJson.scheduler(components.scheduler()));
        ObjectNode index = JSON.createObjectNode().put("_class_name", "StableDiffusionPipeline");
        index.putArray("unet").add("diffusers").add("UNet2DConditionModel");
        index.putArray("vae").add("diffusers").add("AutoencoderKL");
        index.putArray("text_encoder").add("transformers").add("CLIPTextModel");
        index.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
        index.putArray("scheduler").add("diffusers").add("PNDMScheduler");
        writeJson(temp.resolve("model_index.json"), index);
        // keep files that live beside the weights (model card, samples) across re-exports
        if (Files.isDirectory(target)) {
            try (var entries = Files.list(target)) {
                for (Path entry : entries.toList()) {
                    if (Files.isRegularFile(entry) && !Files.exists(temp.resolve(entry.getFileName()))) {
                        Files.copy(entry, temp.resolve(entry.getFileName()));
                    }
                }
            }
        }
        Path old = target.resolveSibling("." + target.getFileName() + ".old");
        Checkpoint.deleteRecursively(old);
        if (Files.exists(target)) {
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        Checkpoint.deleteRecursively(old);
    }

    private static void writeComponent(Path dir, String file, ObjectNode config, Map<String, NDArray> weights, DType dtype)
            throws IOException {
        Files.createDirectories(dir);
        writeJson(dir.resolve("config.json"), config);
        List<Tensor> tensors = new ArrayList<>();
        weights.forEach((name, array) -> tensors.add(Tensor.of(name, dtype, array.getShape().getShape(), array.toFloatArray())));
        SafetensorsWriter.write(dir.resolve(file), tensors);
    }

    private static void writeJson(Path file, ObjectNode json) throws IOException {
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
    }
}
