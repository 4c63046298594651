package daguerre.diffusion.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.FusedOps;

/**
 * A second, independent float32 peak: a large square matrix multiply through libtorch's oneDNN
 * ({@link FusedOps#linear}, the kernel behind the networks' linear layers), on libtorch's intra-op
 * threads. Where it and the {@link PeakFlops} FMA loop disagree by much, one of them is not
 * measuring the machine (the FMA loop's code, or oneDNN's choice of kernel for this CPU).
 */
public final class GemmPeak {

    /** Default matrix side: 2048 x 2048 times 2048 x 2048, 17.2 GFLOP per multiply. */
    public static final int DEFAULT_SIZE = 2048;
    public static final int DEFAULT_ROUNDS = 4;

    private GemmPeak() {}

    /** FLOPs of one {@code n x n} by {@code n x n} multiply: n^3 multiply-adds, 2 FLOPs each. */
    public static double flops(int n) {
        return 2.0 * n * n * n;
    }

    /**
     * The best of {@code rounds} timed multiplies of two seeded random {@code n x n} float32
     * matrices, after one untimed one, in GFLOP/s.
     */
    public static double measureGflops(int n, int rounds) {
        if (n < 1 || rounds < 1) {
            throw new IllegalArgumentException("size and rounds must be positive, got " + n + " and " + rounds);
        }
        try (NDManager manager = DjlRuntime.newManager()) {
            manager.getEngine().setRandomSeed(0);
            NDArray x = manager.randomUniform(-1f, 1f, new Shape(n, n), DataType.FLOAT32);
            NDArray w = manager.randomUniform(-1f, 1f, new Shape(n, n), DataType.FLOAT32);
            double best = 0;
            for (int round = -1; round < rounds; round++) {
                try (NDManager call = manager.newSubManager()) {
                    long start = System.nanoTime();
                    NDArray y = FusedOps.linear(x, w, null);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    y.attach(call);
                    if (!y.getShape().equals(new Shape(n, n))) {
                        throw new IllegalStateException("the multiply gave " + y.getShape());
                    }
                    if (round >= 0) {
                        best = Math.max(best, flops(n) / seconds / 1e9);
                    }
                }
            }
            return best;
        }
    }

    /** {@link #measureGflops} at the default size and rounds. */
    public static double measureGflops() {
        return measureGflops(DEFAULT_SIZE, DEFAULT_ROUNDS);
    }
}
