package daguerre.diffusion.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Measures this machine's float32 peak with {@link PeakFlops} in a child JVM that adds the Vector
 * API module, from a JVM that lacks it. {@code PeakFlops} itself cannot be loaded without the
 * module (the verifier resolves its vector types), so the child is started by the class's name and
 * this class never touches it.
 */
public final class MachinePeak {

    private static final String PEAK_FLOPS_CLASS = "daguerre.diffusion.bench.PeakFlops";

    private MachinePeak() {}

    /** GFLOP/s: the best of PeakFlops' rounds over all cores, in a child JVM with this JVM's class path. */
    public static double measureGflops() throws IOException, InterruptedException {
        return measureGflops(PEAK_FLOPS_CLASS);
    }

    /**
     * Runs {@code mainClass} (of this JVM's class path) in a child JVM with the Vector API module
     * and returns the number on the last line it prints.
     */
    static double measureGflops(String mainClass, String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), mainClass));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        int exit = process.waitFor();
        if (exit != 0 || out.isEmpty()) {
            throw new IOException("peak FLOP measurement in a child JVM failed (exit " + exit + ")");
        }
        String[] lines = out.split("\n");
        try {
            return Double.parseDouble(lines[lines.length - 1].strip());
        } catch (NumberFormatException e) {
            throw new IOException("peak FLOP measurement printed '" + lines[lines.length - 1] + "', not a number", e);
        }
    }
}
