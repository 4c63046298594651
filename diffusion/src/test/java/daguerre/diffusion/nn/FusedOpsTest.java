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

    /**
     * The in-place GroupNorm + SiLU gives what the out-of-place one gives, in either memory layout,
     * and writes it into x's own memory.
     */
    @Test
    void inPlaceGroupNormSiluMatchesTheOutOfPlaceOneAndOverwritesItsInput() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(17);
            NDArray weight = random(m, rng, 12);
            NDArray bias = random(m, rng, 12);
            for (boolean channelsLast : new boolean[] {false, true}) {
                // an offset and scale per channel, so that the statistics matter
                NDArray x = random(m, rng, 2, 12, 5, 7).mul(3).add(random(m, rng, 1, 12, 1, 1).mul(5));
                NDArray expected = FusedOps.groupNormSilu(x, 3, weight, bias, 1e-6f);
                NDArray input = channelsLast ? FusedOps.channelsLast(x) : x.duplicate();
                NDArray inPlace = FusedOps.groupNormSiluInPlace(input, 3, weight, bias, 1e-6f);
                float scale = expected.abs().max().getFloat();
                assertTrue(maxAbsDiff(expected, inPlace) < 1e-5f * scale, channelsLast + ": max diff " + maxAbsDiff(expected, inPlace));
                assertTrue(maxAbsDiff(expected, input) < 1e-5f * scale, channelsLast + ": the input holds the result");
                assertTrue(maxAbsDiff(x, input) > 0.1f, "the input was overwritten");
            }
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

    /**
     * oneDNN's bf16 products against their float32 references, element by element, within a bound
     * derived from what the two routes share: both round the same operands to bfloat16, so every
     * product x_i w_i is exact in float32 on both; their float32 sums differ only in order, by at most
     * 2 n 2^-24 sum_i |x_i w_i| (n terms, float32 unit roundoff 2^-24, each route's own error); and
     * rounding two such sums to bfloat16 can put them one bfloat16 step apart, at most 2^-7 |y|
     * (8 significant bits). The sum of |x_i w_i| is the same product of |x| and |w|.
     */
    @Test
    void bf16ProductsMatchTheirFloat32ReferencesWithinOneRoundingStep() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(19);
            // linear: (rows, in, out), with and without bias
            for (int[] c : new int[][] {{7, 24, 40}, {64, 320, 96}, {33, 1280, 17}}) {
                NDArray x = random(m, rng, c[0], c[1]);
                NDArray w = random(m, rng, c[2], c[1]);
                NDArray b = random(m, rng, c[2]);
                for (NDArray bias : new NDArray[] {b, null}) {
                    NDArray kernel = FusedOps.linearBf16(x, w, bias);
                    NDArray reference = FusedOps.linearBf16Reference(x, w, bias);
                    NDArray magnitudes = FusedOps.linear(FusedOps.roundToBf16(x).abs(), FusedOps.roundToBf16(w).abs(),
                            bias == null ? null : FusedOps.roundToBf16(bias).abs());
                    assertWithinOneBf16Step(kernel, reference, magnitudes, c[1], "linear " + java.util.Arrays.toString(c) + " bias " + (bias != null));
                }
            }
            // conv: (in, out, stride, padding, input size), 3x3 kernels on large and small maps, and a 1x1
            for (int[] c : new int[][] {{6, 10, 1, 1, 8}, {64, 32, 1, 1, 24}, {32, 16, 2, 1, 9}, {128, 64, 1, 1, 4}}) {
                NDArray x = random(m, rng, 2, c[0], c[4], c[4]);
                NDArray w = random(m, rng, c[1], c[0], 3, 3);
                NDArray b = random(m, rng, c[1]);
                NDArray kernel = FusedOps.conv2dBf16(x, w, b, c[2], c[3]);
                NDArray reference = FusedOps.conv2dBf16Reference(x, w, b, c[2], c[3]);
                NDArray magnitudes = FusedOps.conv2d(FusedOps.roundToBf16(x).abs(), FusedOps.roundToBf16(w).abs(),
                        FusedOps.roundToBf16(b).abs(), c[2], c[3]);
                assertWithinOneBf16Step(kernel, reference, magnitudes, c[0] * 9, "conv " + java.util.Arrays.toString(c));
            }
            NDArray x = random(m, rng, 2, 40, 6, 6);
            NDArray w = random(m, rng, 24, 40, 1, 1);
            NDArray b = random(m, rng, 24);
            assertWithinOneBf16Step(FusedOps.conv2dBf16(x, w, b, 1, 0), FusedOps.conv2dBf16Reference(x, w, b, 1, 0),
                    FusedOps.conv2d(FusedOps.roundToBf16(x).abs(), FusedOps.roundToBf16(w).abs(), FusedOps.roundToBf16(b).abs(), 1, 0),
                    40, "conv 1x1");
        }
    }

    @Test
    void bf16ProductsRoundTheirOperandsAndOutput() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(20);
            NDArray x = random(m, rng, 16, 48);
            NDArray w = random(m, rng, 32, 48);
            NDArray exact = FusedOps.linear(x, w, null);
            NDArray bf16 = FusedOps.linearBf16(x, w, null);
            assertTrue(maxAbsDiff(bf16, FusedOps.roundToBf16(bf16)) == 0, "the output holds bfloat16 values");
            float change = maxAbsDiff(bf16, exact) / exact.abs().max().getFloat();
            // operands rounded by at most 2^-9 each (relative), output by 2^-9: well above float32's 1e-6, below 1%
            assertTrue(change > 1e-4f && change < 1e-2f, "relative change of bf16 products: " + change);
        }
    }

    private static void assertWithinOneBf16Step(NDArray kernel, NDArray reference, NDArray magnitudes, int terms, String what) {
        assertArrayEquals(reference.getShape().getShape(), kernel.getShape().getShape(), what);
        NDArray bound = kernel.abs().maximum(reference.abs()).mul(Math.pow(2, -7)).add(magnitudes.mul(2.0 * terms * Math.pow(2, -24)));
        NDArray excess = kernel.sub(reference).abs().sub(bound);
        assertTrue(excess.max().getFloat() <= 0, what + ": bf16 kernel and reference differ beyond one rounding step by " + excess.max().getFloat());
    }
}
