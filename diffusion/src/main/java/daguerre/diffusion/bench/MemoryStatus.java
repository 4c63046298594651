package daguerre.diffusion.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory as Linux reports it in {@code /proc/self/status}: {@code VmRSS}
 * (now) and {@code VmHWM} (the peak, "high water mark"). Elsewhere the figures are NaN.
 */
public final class MemoryStatus {

    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private MemoryStatus() {}

    /** Resident set size now, in GiB. */
    public static double rssGib() {
        return field("VmRSS:");
    }

    /**
     * Resident set size once it has stopped falling, in GiB: after a {@code System.gc()}, G1 hands
     * the shrunk heap's pages back to the system concurrently, over about a second (0.16 GiB after
     * building random SD 1.5 weights). Reads every 100 ms until three reads in a row fall by less
     * than 1 MiB, or for at most 3 s.
     */
    public static double settledRssGib() {
        double rss = rssGib();
        int steady = 0;
        for (int read = 0; read < 30 && steady < 3 && !Double.isNaN(rss); read++) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            double now = rssGib();
            steady = rss - now < 1.0 / 1024 ? steady + 1 : 0;
            rss = now;
        }
        return rss;
    }

    /** Peak resident set size since the process started or since the last successful {@link #resetPeak()}, in GiB. */
    public static double peakRssGib() {
        return field("VmHWM:");
    }

    /**
     * Resets the peak to the current RSS (writing 5 to {@code /proc/self/clear_refs}, Linux 4.0+).
     *
     * @return whether the kernel accepted it; if not, the peak keeps counting from the process start
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static double field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS, StandardCharsets.US_ASCII)) {
                if (line.startsWith(name)) {
                    // "VmHWM:	  123456 kB"
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) / (1024.0 * 1024.0);
                }
            }
            return Double.NaN;
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
    }
}
