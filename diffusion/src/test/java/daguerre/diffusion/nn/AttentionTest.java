package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The attention core against a direct double-precision evaluation: fused and unfused, each whole and in query chunks. */
class AttentionTest {

    private static final int BATCH = 2;
    private static final int QUERIES = 9;
    private static final int KEYS = 6;
    private static final int HEADS = 3;
    private static final int HEAD_DIM = 4;
    private static final int CHANNELS = HEADS * HEAD_DIM;

    @Test
    void matchesTheDefinitionWholeAndChunked() {
        Random random = new Random(5);
        float[] q = GroupNormTest.gaussian(random, BATCH * QUERIES * CHANNELS, 1, 0);
        float[] k = GroupNormTest.gaussian(random, BATCH * KEYS * CHANNELS, 1, 0);
        float[] v = GroupNormTest.gaussian(random, BATCH * KEYS * CHANNELS, 1, 0);
        double[] expected = reference(q, k, v);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray qa = manager.create(q, new Shape(BATCH, QUERIES, CHANNELS));
            NDArray ka = manager.create(k, new Shape(BATCH, KEYS, CHANNELS));
            NDArray va = manager.create(v, new Shape(BATCH, KEYS, CHANNELS));
            // fused: in one call, 2 query rows per call (4 full calls and a short one), 1 row per call
            for (long budget : new long[] {Attention.FUSED_SCORE_BUDGET, 2L * BATCH * HEADS * KEYS, 1}) {
                float[] fused = Attention.attendFused(qa, ka, va, HEADS, budget).toFloatArray();
                assertEquals(expected.length, fused.length);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], fused[i], 1e-5, "fused, budget " + budget + ", element " + i);
                }
            }
            // whole; 2 query rows per chunk (4 full chunks and a short one); 1 row per chunk
            for (long budget : new long[] {Long.MAX_VALUE, 2L * BATCH * HEADS * KEYS, 1}) {
                float[] actual = Attention.attend(qa, ka, va, HEADS, budget).toFloatArray();
                assertEquals(expected.length, actual.length);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], actual[i], 1e-5, "budget " + budget + ", element " + i);
                }
            }
        }
    }

    private static double[] reference(float[] q, float[] k, float[] v) {
        double[] out = new double[BATCH * QUERIES * CHANNELS];
        double scale = 1 / Math.sqrt(HEAD_DIM);
        for (int b = 0; b < BATCH; b++) {
            for (int h = 0; h < HEADS; h++) {
                for (int n = 0; n < QUERIES; n++) {
                    double[] scores = new double[KEYS];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < KEYS; t++) {
                        double dot = 0;
                        for (int d = 0; d < HEAD_DIM; d++) {
                            dot += q[(b * QUERIES + n) * CHANNELS + h * HEAD_DIM + d] * (double) k[(b * KEYS + t) * CHANNELS + h * HEAD_DIM + d];
                        }
                        scores[t] = dot * scale;
                        max = Math.max(max, scores[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < KEYS; t++) {
                        scores[t] = Math.exp(scores[t] - max);
                        sum += scores[t];
                    }
                    for (int d = 0; d < HEAD_DIM; d++) {
                        double acc = 0;
                        for (int t = 0; t < KEYS; t++) {
                            acc += scores[t] / sum * v[(b * KEYS + t) * CHANNELS + h * HEAD_DIM + d];
                        }
                        out[(b * QUERIES + n) * CHANNELS + h * HEAD_DIM + d] = acc;
                    }
                }
            }
        }
        return out;
    }
}
