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

    @Test
    void siluMatchesXTimesSigmoid() {
        try (NDManager m = DjlRuntime.newManager()) {
            NDArray x = random(m, new Random(15), 3, 7, 11).mul(4);
            NDArray fused = Activations.silu(x);
            assertTrue(maxAbsDiff(Activations.siluUnfused(x), fused) < 1e-6f, "max diff " + maxAbsDiff(Activations.siluUnfused(x), fused));
        }
    }

    @Test
    void nearestUpsamplingMatchesThePlainResizeAtEverySize() {
        try (NDManager m = DjlRuntime.newManager()) {
            NDArray x = random(m, new Random(16), 2, 3, 5, 7);
            for (long[] size : new long[][] {{10, 14}, {7, 9}, {5, 7}, {11, 15}, {6, 20}}) {
                NDArray fused = FusedOps.upsampleNearest(x, size[0], size[1]);
                assertArrayEquals(new long[] {2, 3, size[0], size[1]}, fused.getShape().getShape());
                assertArrayEquals(Upsample2D.nearestUnfused(x, size[0], size[1]).toFloatArray(), fused.toFloatArray(),
                        "size " + size[0] + "x" + size[1]);
            }
        }
    }

    @Test
    void linearMatchesLibtorchsLinearWithAndWithoutBias() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(17);
            for (boolean withBias : new boolean[] {true, false}) {
                Linear layer = new Linear(24, 40, withBias);
                layer.namedParameters().get("weight").set(random(m, rng, 40, 24));
                if (withBias) {
                    layer.namedParameters().get("bias").set(random(m, rng, 40));
                }
                for (NDArray x : new NDArray[] {random(m, rng, 7, 24), random(m, rng, 2, 9, 24), random(m, rng, 2, 24, 9).transpose(0, 2, 1)}) {
                    NDArray fused = layer.forward(x);
                    NDArray reference = layer.forwardUnfused(x);
                    assertArrayEquals(reference.getShape().getShape(), fused.getShape().getShape());
                    assertTrue(maxAbsDiff(reference, fused) < 1e-5f, "bias " + withBias + " input " + x.getShape()
                            + ": max diff " + maxAbsDiff(reference, fused));
                }
            }
        }
    }

    @Test
    void unfoldedConvolutionMatchesTheDirectOne() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(18);
            // (in, out, kernel, stride, padding, input size): SD's 3x3 same convolutions and the stride-2 downsampler
            int[][] cases = {{6, 10, 3, 1, 1, 8}, {6, 10, 3, 1, 1, 5}, {4, 7, 3, 2, 1, 9}, {3, 5, 3, 1, 0, 6}};
            for (int[] c : cases) {
                Conv2d conv = new Conv2d(c[0], c[1], c[2], c[3], c[4]);
                conv.namedParameters().get("weight").set(random(m, rng, c[1], c[0], c[2], c[2]));
                conv.namedParameters().get("bias").set(random(m, rng, c[1]));
                NDArray x = random(m, rng, 2, c[0], c[5], c[5]);
                NDArray direct = conv.forwardDirect(x);
                NDArray unfolded = conv.forwardUnfolded(x);
                assertArrayEquals(direct.getShape().getShape(), unfolded.getShape().getShape(), java.util.Arrays.toString(c));
                assertTrue(maxAbsDiff(direct, unfolded) < 1e-5f, java.util.Arrays.toString(c) + ": max diff " + maxAbsDiff(direct, unfolded));
                assertTrue(maxAbsDiff(direct, conv.forward(x)) < 1e-5f);
            }
        }
    }
}
