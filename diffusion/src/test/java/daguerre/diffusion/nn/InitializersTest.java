package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.unet.UNet2DConditionModel;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class InitializersTest {

    @Test
    void schemesFollowKeyAndShape() {
        assertEquals(Initializers.Scheme.ZEROS, Initializers.Scheme.of("conv_in.bias", new Shape(32)));
        assertEquals(Initializers.Scheme.ONES, Initializers.Scheme.of("norm1.weight", new Shape(32)));
        assertEquals(Initializers.Scheme.FAN_IN_NORMAL, Initializers.Scheme.of("conv_in.weight", new Shape(32, 4, 3, 3)));
        assertEquals(Initializers.Scheme.FAN_IN_NORMAL, Initializers.Scheme.of("time_embedding.linear_1.weight", new Shape(128, 32)));
        assertEquals(Initializers.Scheme.EMBEDDING,
                Initializers.Scheme.of("text_model.embeddings.token_embedding.weight", new Shape(49408, 32)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Initializers.Scheme.of("logit_scale", new Shape()));
        assertTrue(e.getMessage().contains("logit_scale"), e.getMessage());
    }

    @Test
    void normalWeightsHaveTheirStandardDeviation() {
        Shape conv = new Shape(64, 128, 3, 3);
        float[] values = Initializers.values("conv.weight", conv, new SplittableRandom(1));
        assertEquals(1 / Math.sqrt(128 * 9), std(values), 0.02 / Math.sqrt(128 * 9));
        assertEquals(0, mean(values), 0.05 / Math.sqrt(128 * 9));
        float[] embedding = Initializers.values("token_embedding.weight", new Shape(1000, 64), new SplittableRandom(2));
        assertEquals(Initializers.EMBEDDING_STD, std(embedding), 0.02 * Initializers.EMBEDDING_STD);
        float[] ones = Initializers.values("norm.weight", new Shape(7), new SplittableRandom(3));
        float[] zeros = Initializers.values("norm.bias", new Shape(7), new SplittableRandom(3));
        for (int i = 0; i < 7; i++) {
            assertEquals(1f, ones[i]);
            assertEquals(0f, zeros[i]);
        }
    }

    @Test
    void sameSeedGivesSameWeightsAndOtherSeedsOthers() {
        try (NDManager manager = DjlRuntime.newManager()) {
            UNet2DConditionModel a = new UNet2DConditionModel(ModelPreset.TINY.unet());
            UNet2DConditionModel b = new UNet2DConditionModel(ModelPreset.TINY.unet());
            UNet2DConditionModel c = new UNet2DConditionModel(ModelPreset.TINY.unet());
            Initializers.initialize(a, 42, manager);
            Initializers.initialize(b, 42, manager);
            Initializers.initialize(c, 43, manager);
            Map<String, Parameter> pb = b.namedParameters();
            Map<String, Parameter> pc = c.namedParameters();
            boolean anyDifferent = false;
            for (Map.Entry<String, Parameter> e : a.namedParameters().entrySet()) {
                float[] va = e.getValue().value().toFloatArray();
                assertArrayEquals(va, pb.get(e.getKey()).value().toFloatArray(), e.getKey());
                anyDifferent |= !Arrays.equals(va, pc.get(e.getKey()).value().toFloatArray());
            }
            assertTrue(anyDifferent, "seeds 42 and 43 gave the same weights");
        }
    }

    @Test
    void everyParameterIsSetIncludingEmbeddings() {
        try (NDManager manager = DjlRuntime.newManager()) {
            ClipTextModel text = new ClipTextModel(ModelPreset.TINY.textEncoder());
            Initializers.initialize(text, 5, manager);
            for (Map.Entry<String, Parameter> e : text.namedParameters().entrySet()) {
                assertTrue(e.getValue().isSet(), e.getKey());
            }
            float[] positions = text.namedParameters().get("text_model.embeddings.position_embedding.weight").value().toFloatArray();
            assertFalse(std(positions) > 0.03 || std(positions) < 0.01, "position embedding std " + std(positions));
        }
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        return sum / values.length;
    }

    private static double std(float[] values) {
        double m = mean(values);
        double sum = 0;
        for (float v : values) {
            sum += (v - m) * (v - m);
        }
        return Math.sqrt(sum / values.length);
    }
}
