package daguerre.diffusion.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.function.LongFunction;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The FMA loop's code forms on one thread, in GFLOP per second of the thread's own CPU time, so
 * that the figures do not depend on how much of a shared machine the thread got (docs/performance.md,
 * "The peak probes"): {@code a = a * m + c} (the probe before the fix: the chain is a multiplicand,
 * the constant c the addend) and {@code a = m * c + a} (after: the chain is the addend), each with
 * a long and an int loop counter. Not a test: run it with
 * The vectors stay in locals up to the final sum: passing them to a varargs method makes C2 box
 * them, and the loop then runs 40x slower.
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp diffusion/target/test-classes \
 *       daguerre.diffusion.bench.FmaFormsPerCpuSecond [ITERATIONS [ROUNDS]]
 * </pre>
 */
public final class FmaFormsPerCpuSecond {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private FmaFormsPerCpuSecond() {}

    public static void main(String[] args) {
        long iterations = args.length > 0 ? Long.parseLong(args[0]) : 20_000_000L;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        System.out.println("lanes " + S.length() + ", 12 chains, one thread; best of " + rounds
                + " rounds of " + iterations + " iterations, GFLOP per CPU second");
        report("chain_multiplicand_long_counter (before)", FmaFormsPerCpuSecond::multiplicandLong, iterations, rounds);
        report("chain_multiplicand_int_counter", n -> multiplicandInt((int) n), iterations, rounds);
        report("chain_addend_long_counter", FmaFormsPerCpuSecond::addendLong, iterations, rounds);
        report("chain_addend_int_counter (after)", n -> addendInt((int) n), iterations, rounds);
    }

    private static void report(String name, LongFunction<Float> loop, long iterations, int rounds) {
        float sink = 0;
        for (int i = 0; i < 3000; i++) {
            sink += loop.apply(2000);  // warm-up: C2 compiles the whole method
        }
        double best = 0;
        for (int round = 0; round < rounds; round++) {
            long start = THREADS.getCurrentThreadCpuTime();
            sink += loop.apply(iterations);
            double seconds = (THREADS.getCurrentThreadCpuTime() - start) / 1e9;
            best = Math.max(best, 2.0 * 12 * S.length() * iterations / seconds / 1e9);
        }
        System.out.println(String.format(Locale.ROOT, "%-42s %.1f", name, Float.isNaN(sink) ? Double.NaN : best));
    }

    private static float multiplicandLong(long n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f), a0 = FloatVector.broadcast(S, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < n; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(VectorOperators.ADD);
    }

    private static float multiplicandInt(int n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f), a0 = FloatVector.broadcast(S, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < n; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(VectorOperators.ADD);
    }

    private static float addendLong(long n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f), a0 = FloatVector.broadcast(S, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < n; i++) {
            a0 = m.fma(c, a0); a1 = m.fma(c, a1); a2 = m.fma(c, a2); a3 = m.fma(c, a3);
            a4 = m.fma(c, a4); a5 = m.fma(c, a5); a6 = m.fma(c, a6); a7 = m.fma(c, a7);
            a8 = m.fma(c, a8); a9 = m.fma(c, a9); a10 = m.fma(c, a10); a11 = m.fma(c, a11);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(VectorOperators.ADD);
    }

    private static float addendInt(int n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-7f), a0 = FloatVector.broadcast(S, 1f);
        FloatVector a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < n; i++) {
            a0 = m.fma(c, a0); a1 = m.fma(c, a1); a2 = m.fma(c, a2); a3 = m.fma(c, a3);
            a4 = m.fma(c, a4); a5 = m.fma(c, a5); a6 = m.fma(c, a6); a7 = m.fma(c, a7);
            a8 = m.fma(c, a8); a9 = m.fma(c, a9); a10 = m.fma(c, a10); a11 = m.fma(c, a11);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(VectorOperators.ADD);
    }
}
