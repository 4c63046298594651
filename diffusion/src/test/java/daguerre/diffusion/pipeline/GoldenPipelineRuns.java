package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.sampling.RecordedNoise;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the golden pipeline cases ({@code pipeline_tiny}, {@code pipeline_tiny_xl}) share: their call, noise, tolerances and image check. */
final class GoldenPipelineRuns {

    private GoldenPipelineRuns() {}

    /** The pipeline call's arguments as the case README states them. */
    record Call(String prompt, double guidanceScale) {
        static Call fromReadme(String goldenCase) throws Exception {
            String readme = Files.readString(Golden.file(goldenCase, "README.md"));
            return new Call(find(goldenCase, readme, "prompt=\"([^\"]*)\""),
                    Double.parseDouble(find(goldenCase, readme, "guidance_scale=([0-9.]+)")));
        }

        private static String find(String goldenCase, String text, String regex) {
            Matcher m = Pattern.compile(regex).matcher(text);
            assertTrue(m.find(), "README.md of " + goldenCase + " does not state " + regex);
            return m.group(1);
        }
    }

    /** latents_input first, then the per-step noise tensors noiseKK (stochastic samplers). */
    static RecordedNoise recordedNoise(SafetensorsFile golden, int steps) throws Exception {
        RecordedNoise noise = new RecordedNoise();
        noise.add("latents_input", golden.floats("latents_input"), new Shape(golden.info("latents_input").shape()));
        for (int k = 0; k < steps; k++) {
            String key = String.format("noise%02d", k);
            if (golden.contains(key)) {
                noise.add(key, golden.floats(key), new Shape(golden.info(key).shape()));
            }
        }
        return noise;
    }

    /** The run's observed float32-vs-float64 max abs error per tensor (summary.json's {@code f32_vs_f64}). */
    static Map<String, Double> observed(JsonNode run) {
        Map<String, Double> out = new HashMap<>();
        run.get("f32_vs_f64").fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().get("max_abs_err").asDouble()));
        return out;
    }

    /** Reference image [1, H, W, 3] in [0, 1] vs ours: at most one 8-bit level apart (rounding); returns the worst difference. */
    static int assertImageClose(float[] reference, long[] shape, BufferedImage image) {
        int height = (int) shape[1];
        int width = (int) shape[2];
        assertEquals(width, image.getWidth());
        assertEquals(height, image.getHeight());
        int worst = 0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = image.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    int expected = (int) Math.rint(reference[(y * width + x) * 3 + c] * 255.0);
                    int actual = (rgb >> (16 - 8 * c)) & 0xff;
                    worst = Math.max(worst, Math.abs(expected - actual));
                }
            }
        }
        assertTrue(worst <= 1, "image differs by " + worst + " levels");
        return worst;
    }
}
