package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** diffusers' get_timestep_embedding for every setting and width recorded in the golden file. */
class SinusoidalEmbeddingTest {

    private static final String CASE = "timestep_embedding";

    @Test
    void matchesDiffusersForEverySettingAndWidth() throws Exception {
        Map<String, Double> observed = Parity.observedErrors(CASE);
        ObjectMapper json = new ObjectMapper();
        try (SafetensorsFile file = Golden.tensors(CASE, "timestep_embedding.safetensors");
             NDManager manager = NDManager.newBaseManager()) {
            // I64 in the shipped case; F32 / F64 (fractional timesteps) are read the same way
            double[] steps = file.doubles("timesteps");
            float[] timesteps = new float[steps.length];
            for (int i = 0; i < steps.length; i++) {
                timesteps[i] = (float) steps[i];
            }
            JsonNode settings = json.readTree(file.metadata().get("settings"));
            JsonNode dims = json.readTree(file.metadata().get("dims"));
            assertFalse(settings.isEmpty() || dims.isEmpty(), "no settings or dims in the golden metadata");
            Map<String, Double> errors = new TreeMap<>();
            for (Map.Entry<String, JsonNode> setting : settings.properties()) {
                boolean flip = setting.getValue().get("flip_sin_to_cos").booleanValue();
                float shift = (float) setting.getValue().get("downscale_freq_shift").doubleValue();
                for (JsonNode dimNode : dims) {
                    int dim = dimNode.intValue();
                    String name = "emb_" + setting.getKey() + "_dim" + dim;
                    float[] ours = SinusoidalEmbedding.embed(timesteps, dim, flip, shift);
                    assertEquals(steps.length * dim, ours.length);
                    NDArray actual = manager.create(ours, new Shape(steps.length, dim));
                    errors.put(name, Parity.assertClose(file, name, actual, Parity.tolerance(observed, name)));
                }
            }
            System.out.println(CASE + " max abs errors: " + errors);
        }
    }

    @Test
    void oddWidthEndsWithAZeroColumn() {
        float[] embedding = SinusoidalEmbedding.embed(new float[] {3.5f}, 5, true, 0);
        assertEquals(0f, embedding[4]);
        assertEquals((float) Math.cos(3.5), embedding[0], 1e-6);
        assertEquals((float) Math.sin(3.5), embedding[2], 1e-6);
    }
}
