package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** GroupNorm, fused and unfused, against a direct double-precision evaluation of its definition. */
class GroupNormTest {

    @Test
    void matchesTheDefinition() {
        int batch = 2;
        int channels = 12;
        int groups = 3;
        int spatial = 5 * 7;
        float eps = 1e-5f;
        Random random = new Random(3);
        float[] x = gaussian(random, batch * channels * spatial, 2, 0.5);
        float[] weight = gaussian(random, channels, 0.3, 1);
        float[] bias = gaussian(random, channels, 0.1, 0);
        try (NDManager manager = NDManager.newBaseManager()) {
            GroupNorm norm = new GroupNorm(groups, channels, eps);
            norm.namedParameters().get("weight").set(manager.create(weight));
            norm.namedParameters().get("bias").set(manager.create(bias));
            NDArray input = manager.create(x, new Shape(batch, channels, 5, 7));
            for (float[] actual : new float[][] {norm.forward(input).toFloatArray(), norm.forwardUnfused(input).toFloatArray()}) {

            int perGroup = channels / groups * spatial;
            for (int b = 0; b < batch; b++) {
                for (int g = 0; g < groups; g++) {
                    int start = (b * channels + g * channels / groups) * spatial;
                    double mean = 0;
                    for (int i = 0; i < perGroup; i++) {
                        mean += x[start + i];
                    }
                    mean /= perGroup;
                    double variance = 0;
                    for (int i = 0; i < perGroup; i++) {
                        variance += (x[start + i] - mean) * (x[start + i] - mean);
                    }
                    variance /= perGroup;
                    for (int i = 0; i < perGroup; i++) {
                        int c = g * channels / groups + i / spatial;
                        double expected = (x[start + i] - mean) / Math.sqrt(variance + eps) * weight[c] + bias[c];
                        assertEquals(expected, actual[start + i], 2e-6, "element " + (start + i));
                    }
                }
            }
            }
        }
    }

    @Test
    void fusedSiluOfTheNormMatchesTheUnfusedComposition() {
        Random random = new Random(4);
        try (NDManager manager = NDManager.newBaseManager()) {
            GroupNorm norm = new GroupNorm(4, 8, 1e-5f);
            norm.namedParameters().get("weight").set(manager.create(gaussian(random, 8, 0.5, 1)));
            norm.namedParameters().get("bias").set(manager.create(gaussian(random, 8, 0.5, 0)));
            NDArray input = manager.create(gaussian(random, 2 * 8 * 30, 2, 0.5), new Shape(2, 8, 5, 6));
            float[] reference = Activations.siluUnfused(norm.forwardUnfused(input)).toFloatArray();
            float[] fused = norm.forwardSilu(input).toFloatArray();
            for (int i = 0; i < reference.length; i++) {
                assertEquals(reference[i], fused[i], 2e-6, "element " + i);
            }
        }
    }

    static float[] gaussian(Random random, int n, double std, double mean) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (mean + std * random.nextGaussian());
        }
        return values;
    }
}
