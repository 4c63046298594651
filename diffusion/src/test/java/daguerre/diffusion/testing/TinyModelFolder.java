package daguerre.diffusion.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.Golden;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Assembles a tiny diffusers-format Stable Diffusion folder from the golden parts, as
 * {@code ../shared/golden/pipeline_tiny/README.md} describes the reference pipeline: tokenizer
 * from {@code clip_tokenizer}, text encoder from {@code clip_text_tiny}, U-Net from
 * {@code unet_tiny}, VAE from {@code vae_tiny}, and the SD 1.5 scheduler settings. For tests of
 * this and later issues (loader, pipeline, server).
 */
public final class TinyModelFolder {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TinyModelFolder() {}

    /** Creates {@code dir/name} holding the tiny model and returns it. */
    public static Path create(Path dir, String name) {
        try {
            Path root = Files.createDirectories(dir.resolve(name));
            copy("unet_tiny", "config.json", root.resolve("unet/config.json"));
            copy("unet_tiny", "unet_diffusers.safetensors", root.resolve("unet/diffusion_pytorch_model.safetensors"));
            copy("vae_tiny", "config.json", root.resolve("vae/config.json"));
            copy("vae_tiny", "vae_diffusers.safetensors", root.resolve("vae/diffusion_pytorch_model.safetensors"));
            copy("clip_text_tiny", "config.json", root.resolve("text_encoder/config.json"));
            copy("clip_text_tiny", "text_encoder_transformers.safetensors", root.resolve("text_encoder/model.safetensors"));
            for (String file : new String[] {"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"}) {
                copy("clip_tokenizer", file, root.resolve("tokenizer/" + file));
            }
            ObjectNode scheduler = JSON.createObjectNode()
                    .put("_class_name", "PNDMScheduler")
                    .put("num_train_timesteps", 1000)
                    .put("beta_start", 0.00085)
                    .put("beta_end", 0.012)
                    .put("beta_schedule", "scaled_linear")
                    .put("steps_offset", 1)
                    .put("set_alpha_to_one", false)
                    .put("clip_sample", false)
                    .put("skip_prk_steps", true)
                    .put("prediction_type", "epsilon");
            write(root.resolve("scheduler/scheduler_config.json"), scheduler);
            ObjectNode index = JSON.createObjectNode().put("_class_name", "StableDiffusionPipeline");
            index.putArray("unet").add("diffusers").add("UNet2DConditionModel");
            index.putArray("vae").add("diffusers").add("AutoencoderKL");
            index.putArray("text_encoder").add("transformers").add("CLIPTextModel");
            index.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
            index.putArray("scheduler").add("diffusers").add("PNDMScheduler");
            write(root.resolve("model_index.json"), index);
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copy(String goldenCase, String file, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Files.copy(Golden.file(goldenCase, file), target, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void write(Path target, ObjectNode json) throws IOException {
        Files.createDirectories(target.getParent());
        JSON.writerWithDefaultPrettyPrinter().writeValue(target.toFile(), json);
    }
}
