package daguerre.diffusion.bench;

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
 * <p>How the loop is written matters (see docs/performance.md, "The FMA peak probe"):
 * <ul>
 *   <li>Each chain is the <em>addend</em> of its FMA, {@code a = m * c + a}. C2 matches a vector
 *       FMA only as {@code vfmadd231ps c, a, b} (c = a * b + c, the addend is overwritten). The
 *       earlier form {@code a = a * m + c} made the constant {@code c} the addend, so every FMA
 *       needed a register copy of {@code c} first, and with 12 chains plus the copies C2 ran out
 *       of the 16 AVX2 registers and spilled chains to the stack: 82% of the native FMA loop.</li>
 *   <li>The inner loop counts with an {@code int}: C2 unrolls and strip-mines int-counted loops
 *       (a safepoint poll every few thousand iterations); a {@code long} counter is not a counted
 *       loop on older JDKs.</li>
 *   <li>The loop is warmed up with short calls before any round is timed, so the timed rounds run
 *       the C2-compiled method (the Vector API in the interpreter or in C1 boxes every vector and
 *       runs 50x slower; an OSR compilation of a never-exited loop was seen deoptimised at its
 *       exit).</li>
 * </ul>
 *
 * <p>The Vector API is an incubator module, so the measurement runs in a child JVM started with
 * {@code --add-modules jdk.incubator.vector} ({@link MachinePeak}); this class must not be loaded
 * by a JVM without that module.
 */
public final class PeakFlops {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 12;
    /** Iterations of one warm-up call: short, so the method is compiled as a whole, not only on-stack. */
    private static final int WARMUP_ITERATIONS = 2_000;
    private static final int WARMUP_CALLS = 3_000;
    /** Default iterations per thread per round: about 0.1 s on an AVX2 core at 3 GHz. */
    public static final long DEFAULT_ITERATIONS = 40_000_000L;
    public static final int DEFAULT_ROUNDS = 8;

    private PeakFlops() {}

    /**
     * Prints the best of the rounds in GFLOP/s on stdout (child-JVM entry point). Arguments, both
     * optional: iterations per thread per round, and rounds.
     */
    public static void main(String[] args) throws Exception {
        long iterations = args.length > 0 ? Long.parseLong(args[0]) : DEFAULT_ITERATIONS;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_ROUNDS;
        System.out.println(measure(iterations, rounds));
    }

    /** FLOPs of one loop iteration: {@value #CHAINS} FMAs of {@code lanes()} floats, 2 FLOPs each. */
    static long flopsPerIteration() {
        return 2L * CHAINS * SPECIES.length();
    }

    /** Floats per vector of the species the loop uses (8 with AVX2, 16 with AVX-512). */
    public static int lanes() {
        return SPECIES.length();
    }

    /** The best of {@code rounds} runs, in GFLOP/s, over all available cores, after a warm-up. */
    public static double measure(long iterations, int rounds) throws Exception {
        if (iterations < 1 || rounds < 1) {
            throw new IllegalArgumentException("iterations and rounds must be positive, got " + iterations + " and " + rounds);
        }
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            run(pool, threads, () -> {
                float sink = 0;
                for (int i = 0; i < WARMUP_CALLS; i++) {
                    sink += fmaLoop(WARMUP_ITERATIONS);
                }
                return sink;
            });
            double best = 0;
            for (int round = 0; round < rounds; round++) {
                long start = System.nanoTime();
                float sink = run(pool, threads, () -> fmaLoop(iterations));
                double seconds = (System.nanoTime() - start) / 1e9;
                double flops = (double) flopsPerIteration() * iterations * threads;
                if (!Float.isNaN(sink)) {
                    best = Math.max(best, flops / seconds / 1e9);
                }
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }

    private static float run(ExecutorService pool, int threads, java.util.concurrent.Callable<Float> task) throws Exception {
        List<Future<Float>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            results.add(pool.submit(task));
        }
        float sink = 0;
        for (Future<Float> f : results) {
            sink += f.get();
        }
        return sink;
    }

    /** {@code iterations} rounds of 12 FMAs, in int-counted pieces. */
    private static float fmaLoop(long iterations) {
        float sink = 0;
        for (long done = 0; done < iterations; ) {
            int piece = (int) Math.min(iterations - done, 1 << 30);
            sink += fmaLoop(piece);
            done += piece;
        }
        return sink;
    }

    /**
     * 12 independent chains a = m * c + a: each chain is its FMA's addend, so C2's
     * {@code vfmadd231ps} updates it in place (no copies, no spills). The chains grow by about
     * 1e-7 per iteration: no overflow or denormals in any count the probe runs.
     */
    private static float fmaLoop(int iterations) {
        FloatVector m = FloatVector.broadcast(SPECIES, 0.999999f);
        FloatVector c = FloatVector.broadcast(SPECIES, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(SPECIES, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < iterations; i++) {
            a0 = m.fma(c, a0);
            a1 = m.fma(c, a1);
            a2 = m.fma(c, a2);
            a3 = m.fma(c, a3);
            a4 = m.fma(c, a4);
            a5 = m.fma(c, a5);
            a6 = m.fma(c, a6);
            a7 = m.fma(c, a7);
            a8 = m.fma(c, a8);
            a9 = m.fma(c, a9);
            a10 = m.fma(c, a10);
            a11 = m.fma(c, a11);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
