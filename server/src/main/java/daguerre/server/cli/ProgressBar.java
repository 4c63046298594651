package daguerre.server.cli;

import java.io.PrintStream;

/** A one-line text progress bar with rate and ETA, redrawn in place on a terminal stream. */
final class ProgressBar {

    private static final int WIDTH = 30;

    private final PrintStream out;
    private final String label;
    private final long start = System.nanoTime();

    ProgressBar(PrintStream out, String label) {
        this.out = out;
        this.label = label;
    }

    void update(int done, int total) {
        double elapsed = (System.nanoTime() - start) / 1e9;
        double perStep = done == 0 ? 0 : elapsed / done;
        int filled = total == 0 ? WIDTH : (int) Math.round(WIDTH * (double) done / total);
        out.printf("\r%s [%s%s] %d/%d  %.2f s/step  ETA %.1f s ", label, "#".repeat(filled), "-".repeat(WIDTH - filled),
                done, total, perStep, perStep * (total - done));
        if (done == total) {
            out.println();
        }
        out.flush();
    }
}
