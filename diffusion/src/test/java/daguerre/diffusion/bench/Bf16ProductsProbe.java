package daguerre.diffusion.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.FusedOps;
import java.util.function.Supplier;

/**
 * float32 against bfloat16 throughput of the networks' kernels on SD 1.5's shapes, interleaved in
 * one run (so that a change in the machine's CPU share falls on both), for docs/performance.md:
 * <pre>
 * java -cp server/target/daguerre.jar:diffusion/target/test-classes daguerre.diffusion.bench.Bf16ProductsProbe [rounds]
 * </pre>
 * Each line times a first and a second route (float32 and bfloat16, or for small convolutions the
 * direct bf16 one and im2col + the bf16 matrix multiply); each figure is the best of 3 timed calls
 * after one untimed call.
 */
public final class Bf16ProductsProbe {

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        System.out.println("cpu_features " + CpuFeatures.current().reportedText());
        try (NDManager m = DjlRuntime.newManager()) {
            for (int round = 1; round <= rounds; round++) {
                System.out.println("round " + round);
                gemm(m, 8192, 320, 1280);
                gemm(m, 2048, 640, 2560);
                gemm(m, 8192, 1280, 320);
                gemm(m, 2048, 2048, 2048);
                conv(m, 2, 320, 320, 64);
                conv(m, 2, 640, 640, 32);
                conv(m, 2, 1280, 1280, 8);
                smallConvAsGemm(m, 2, 1280, 1280, 8);
                smallConvAsGemm(m, 2, 2560, 1280, 8);
                smallConvAsGemm(m, 2, 1280, 1280, 4);
                conv(m, 1, 128, 128, 512);
                attention(m, 16, 4096, 40);
                attention(m, 16, 1024, 80);
            }
        }
    }

    private static void gemm(NDManager m, int rows, int in, int out) {
        try (NDManager call = m.newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, new Shape(rows, in));
            NDArray w = FusedOps.convert(call.randomUniform(-1f, 1f, new Shape(out, in)), DataType.FLOAT16);
            NDArray b = call.randomUniform(-1f, 1f, new Shape(out));
            report(String.format("linear [%d, %d] x [%d, %d]^T", rows, in, out, in), 2.0 * rows * in * out,
                    () -> FusedOps.linear(x, w, b), () -> FusedOps.linearBf16(x, w, b));
        }
    }

    private static void conv(NDManager m, int batch, int in, int out, int size) {
        try (NDManager call = m.newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, new Shape(batch, in, size, size));
            NDArray w = FusedOps.convert(call.randomUniform(-0.1f, 0.1f, new Shape(out, in, 3, 3)), DataType.FLOAT16);
            NDArray b = call.randomUniform(-1f, 1f, new Shape(out));
            report(String.format("conv3x3 [%d, %d, %d, %d] -> %d", batch, in, size, size, out), 2.0 * batch * in * out * 9.0 * size * size,
                    () -> FusedOps.conv2d(x, w, b, 1, 1), () -> FusedOps.conv2dBf16(x, w, b, 1, 1));
        }
    }

    /** A 3x3 convolution on a small map as im2col + matrix multiply ({@code Conv2d.forwardUnfolded}) against the direct one, both bf16. */
    private static void smallConvAsGemm(NDManager m, int batch, int in, int out, int size) {
        try (NDManager call = m.newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, new Shape(batch, in, size, size));
            NDArray w = FusedOps.convert(call.randomUniform(-0.1f, 0.1f, new Shape(out, in, 3, 3)), DataType.FLOAT16);
            NDArray matrix = w.reshape(out, -1);
            NDArray b = call.randomUniform(-1f, 1f, new Shape(out));
            report(String.format("bf16 conv3x3 [%d, %d, %d, %d] -> %d, direct vs im2col+GEMM", batch, in, size, size, out),
                    2.0 * batch * in * out * 9.0 * size * size,
                    () -> FusedOps.conv2dBf16(x, w, b, 1, 1),
                    () -> FusedOps.linearBf16(FusedOps.im2col(x, 3, 1, 1).transpose(0, 2, 1), matrix, b));
        }
    }

    private static void attention(NDManager m, int heads, int tokens, int width) {
        try (NDManager call = m.newSubManager()) {
            Shape shape = new Shape(1, heads, tokens, width);
            NDArray q = call.randomUniform(-1f, 1f, shape);
            NDArray k = call.randomUniform(-1f, 1f, shape);
            NDArray v = call.randomUniform(-1f, 1f, shape);
            report(String.format("attention [1, %d, %d, %d]", heads, tokens, width), 4.0 * heads * tokens * (double) tokens * width,
                    () -> FusedOps.attention(q, k, v), () -> FusedOps.attentionBf16(q, k, v));
        }
    }

    /** Times two routes to the same result and prints both throughputs and the second's speed-up. */
    static void report(String name, double flops, Supplier<NDArray> float32, Supplier<NDArray> bfloat16) {
        double f32 = best(float32);
        double bf16 = best(bfloat16);
        System.out.printf("  %-58s first %6.1f GFLOP/s  second %6.1f GFLOP/s  speed-up %.2f%n",
                name, flops / f32 / 1e9, flops / bf16 / 1e9, f32 / bf16);
    }

    private static double best(Supplier<NDArray> call) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            long start = System.nanoTime();
            NDArray y = call.get();
            double seconds = (System.nanoTime() - start) / 1e9;
            y.close();
            if (i > 0) {
                best = Math.min(best, seconds);
            }
        }
        return best;
    }
}
