package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.sampling.RecordedNoise;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the tests of {@code inpaint_tiny} share: its call, its picture and mask, the model of a run and its recorded draws. */
final class InpaintGolden {

    static final String CASE = "inpaint_tiny";

    private InpaintGolden() {}

    /** The call as the README states it. */
    record Call(String prompt, String negativePrompt, double guidanceScale, String scheduler) {
        static Call fromReadme() throws Exception {
            String readme = Files.readString(Golden.file(CASE, "README.md"));
            return new Call(find(readme, "for prompt \"([^\"]*)\""), find(readme, "negative_prompt \"([^\"]*)\""),
                    Double.parseDouble(find(readme, "guidance_scale=([0-9.]+)")), find(readme, "\\), (\\w+) scheduler"));
        }

        private static String find(String text, String regex) {
            Matcher m = Pattern.compile(regex).matcher(text);
            assertTrue(m.find(), "README.md of " + CASE + " does not state " + regex);
            return m.group(1);
        }
    }

    /**
     * The tiny model of a run: the inpainting U-Net (the case's config and diffusers weights) for
     * {@code in_channels} 9, else the pipeline's 4-channel one; the case's scheduler config.
     */
    static Path modelFolder(Path dir, String name, JsonNode run, JsonNode summary) throws Exception {
        Path folder = TinyModelFolder.create(dir, name);
        if (run.get("in_channels").asInt() != 4) {
            Files.copy(Golden.file(CASE, "config.json"), folder.resolve("unet/config.json"), StandardCopyOption.REPLACE_EXISTING);
            Files.copy(Golden.file(CASE, run.get("unet").asText() + "_diffusers.safetensors"),
                    folder.resolve("unet/diffusion_pytorch_model.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        }
        new ObjectMapper().writeValue(folder.resolve("scheduler/scheduler_config.json").toFile(), summary.get("scheduler_config"));
        return folder;
    }

    /** The run's draws in the order the README lists them: 'latents' the initial noise, 'vae' the next vae_sample_noiseK. */
    static RecordedNoise recordedNoise(SafetensorsFile golden, JsonNode run) throws Exception {
        RecordedNoise noise = new RecordedNoise();
        int vae = 0;
        for (JsonNode draw : run.get("noise_draw_order")) {
            String key = draw.asText().equals("latents") ? "noise" : "vae_sample_noise" + vae++;
            noise.add(key, golden.floats(key), new Shape(golden.info(key).shape()));
        }
        return noise;
    }

    /** {@code image_u8} [H, W, 3] of the inputs as an RGB image. */
    static BufferedImage image() throws Exception {
        try (SafetensorsFile inputs = Golden.tensors(CASE, "inputs.safetensors")) {
            long[] shape = inputs.shape("image_u8");
            double[] v = inputs.doubles("image_u8");
            int h = (int) shape[0];
            int w = (int) shape[1];
            BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = (y * w + x) * 3;
                    image.setRGB(x, y, ((int) v[i] << 16) | ((int) v[i + 1] << 8) | (int) v[i + 2]);
                }
            }
            return image;
        }
    }

    /** {@code mask_u8} [H, W] as a grey RGB image (r = g = b: Pillow's 'L' gives the value back). */
    static BufferedImage mask() throws Exception {
        try (SafetensorsFile inputs = Golden.tensors(CASE, "inputs.safetensors")) {
            long[] shape = inputs.shape("mask_u8");
            double[] v = inputs.doubles("mask_u8");
            int h = (int) shape[0];
            int w = (int) shape[1];
            BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int g = (int) v[y * w + x];
                    image.setRGB(x, y, (g << 16) | (g << 8) | g);
                }
            }
            return image;
        }
    }

    /** The mask's values [H * W]. */
    static int[] maskValues() throws Exception {
        try (SafetensorsFile inputs = Golden.tensors(CASE, "inputs.safetensors")) {
            double[] v = inputs.doubles("mask_u8");
            int[] out = new int[v.length];
            for (int i = 0; i < v.length; i++) {
                out[i] = (int) v[i];
            }
            return out;
        }
    }
}
