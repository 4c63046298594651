package daguerre.diffusion.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Times the peak probes interleaved, so that they see the same CPU share (docs/performance.md,
 * "The FMA peak probe"): the FMA loop before the fix ({@link PeakFlopsBefore}, child JVM), after
 * it ({@link MachinePeak}, child JVM), the native C loop of {@code docs/probes/fma_peak.c} when its
 * binary is given, and the oneDNN GEMM ({@link GemmPeak}, this JVM). Not a test: run it with
 * <pre>
 *   java -cp server/target/daguerre.jar:diffusion/target/test-classes \
 *       daguerre.diffusion.bench.PeakProbeComparison [ROUNDS [C_BINARY]]
 * </pre>
 * Prints one line per round, {@code round java_before java_after c gemm} in GFLOP/s, then the best
 * of each.
 */
public final class PeakProbeComparison {

    private PeakProbeComparison() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        String native_ = args.length > 1 ? args[1] : null;
        MachineInfo machine = MachineInfo.current();
        System.out.println("cpu_model " + machine.cpu().model());
        System.out.println("cpu_features " + machine.cpu().reportedText());
        System.out.println("threads " + machine.intraOpThreads() + ", omp_wait_policy " + machine.ompWaitPolicy());
        System.out.println("round java_before java_after c gemm");
        double[] best = new double[4];
        for (int round = 1; round <= rounds; round++) {
            double[] row = {
                MachinePeak.measureGflops(PeakFlopsBefore.class.getName()),
                MachinePeak.measureGflops(),
                native_ == null ? Double.NaN : runNative(native_),
                GemmPeak.measureGflops()
            };
            StringBuilder line = new StringBuilder(Integer.toString(round));
            for (int i = 0; i < row.length; i++) {
                line.append(String.format(Locale.ROOT, " %.1f", row[i]));
                best[i] = Double.isNaN(row[i]) ? Double.NaN : Math.max(best[i], row[i]);
            }
            System.out.println(line);
        }
        System.out.println(String.format(Locale.ROOT, "best %.1f %.1f %.1f %.1f", best[0], best[1], best[2], best[3]));
    }

    private static double runNative(String binary) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(binary).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (process.waitFor() != 0) {
            throw new IOException(binary + " exited with " + process.exitValue());
        }
        return Double.parseDouble(out);
    }
}
