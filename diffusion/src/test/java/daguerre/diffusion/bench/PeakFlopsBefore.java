package daguerre.diffusion.bench;

// The FMA peak probe as it was before the fix (commit c014ba1), kept verbatim but for its name so that
// PeakProbeComparison can time it next to the fixed one. Not a test.

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures this machine's float32 peak right now: every core runs a loop of independent
 * vector FMAs held in registers (12 chains of the widest vector the CPU has), so the figure is
 * the FLOP limit that benchmark times are divided by. The CPU share of shared machines varies over
 * a day, so a benchmark measures it in the same run as the work it reports.
 *
 * <p>The Vector API is an incubator module, so the measurement runs in a child JVM started with
 * {@code --add-modules jdk.incubator.vector} ({@link MachinePeak}); this class must not be loaded
 * by a JVM without that module.
 */
public final class PeakFlopsBefore {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 12;

    private PeakFlopsBefore() {}

    /** Prints the best of {@code rounds} measurements in GFLOP/s on stdout (child-JVM entry point). */
    public static void main(String[] args) throws Exception {
        long iterations = args.length > 0 ? Long.parseLong(args[0]) : 20_000_000L;
        System.out.println(measure(iterations, 5));
    }

    /** The best of {@code rounds} runs, in GFLOP/s, over all available cores. */
    public static double measure(long iterations, int rounds) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            double best = 0;
            for (int round = 0; round < rounds; round++) {
                long start = System.nanoTime();
                List<Future<Float>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    results.add(pool.submit(() -> fmaLoop(iterations)));
                }
                float sink = 0;
                for (Future<Float> f : results) {
                    sink += f.get();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                double flops = 2.0 * CHAINS * SPECIES.length() * iterations * threads;
                if (!Float.isNaN(sink)) {
                    best = Math.max(best, flops / seconds / 1e9);
                }
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }

    private static float fmaLoop(long iterations) {
        FloatVector m = FloatVector.broadcast(SPECIES, 0.999999f);
        FloatVector c = FloatVector.broadcast(SPECIES, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(SPECIES, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
