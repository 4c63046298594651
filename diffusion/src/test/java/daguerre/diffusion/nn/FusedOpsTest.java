package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused libtorch ops agree with plain compositions of DJL ops on random inputs. */
class FusedOpsTest {

    private static NDArray random(NDManager m, Random rng, long... shape) {
        float[] values = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rng.nextGaussian();
        }
        return m.create(values, new Shape(shape));
    }

    private static float maxAbsDiff(NDArray a, NDArray b) {
        return a.sub(b).abs().max().getFloat();
    }

    @Test
    void attentionMatchesSoftmaxOfScores() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(11);
            NDArray q = random(m, rng, 2, 3, 17, 8);
            NDArray k = random(m, rng, 2, 3, 5, 8);
            NDArray v = random(m, rng, 2, 3, 5, 8);
            NDArray reference = q.matMul(k.transpose(0, 1, 3, 2)).div(Math.sqrt(8)).softmax(-1).matMul(v);
            NDArray fused = FusedOps.attention(q, k, v);
            assertArrayEquals(new long[] {2, 3, 17, 8}, fused.getShape().getShape());
            assertTrue(maxAbsDiff(reference, fused) < 1e-5f, "max diff " + maxAbsDiff(reference, fused));
            assertTrue(fused.getManager() == q.getManager());
        }
    }

    @Test
    void causalAttentionMasksTheFuture() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(12);
            int t = 6;
            NDArray q = random(m, rng, 1, 2, t, 4);
            NDArray k = random(m, rng, 1, 2, t, 4);
            NDArray v = random(m, rng, 1, 2, t, 4);
            float[] mask = new float[t * t];
            for (int i = 0; i < t; i++) {
                for (int j = i + 1; j < t; j++) {
                    mask[i * t + j] = -1e9f;
                }
            }
            NDArray future = m.create(mask, new Shape(t, t));
            NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(2.0).add(future);
            NDArray reference = scores.softmax(-1).matMul(v);
            assertTrue(maxAbsDiff(reference, FusedOps.causalAttention(q, k, v)) < 1e-5f);
        }
    }

    @Test
    void groupNormMatchesDefinition() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(13);
            NDArray x = random(m, rng, 2, 8, 3, 5);
            NDArray weight = random(m, rng, 8);
            NDArray bias = random(m, rng, 8);
            NDArray grouped = x.reshape(2, 4, 2 * 3 * 5);
            NDArray mean = grouped.mean(new int[] {2}, true);
            NDArray variance = grouped.sub(mean).square().mean(new int[] {2}, true);
            NDArray normalised = grouped.sub(mean).div(variance.add(1e-5f).sqrt()).reshape(2, 8, 3, 5);
            NDArray reference = normalised.mul(weight.reshape(1, 8, 1, 1)).add(bias.reshape(1, 8, 1, 1));
            NDArray fused = FusedOps.groupNorm(x, 4, weight, bias, 1e-5f);
            assertTrue(maxAbsDiff(reference, fused) < 1e-5f, "max diff " + maxAbsDiff(reference, fused));
        }
    }
}
