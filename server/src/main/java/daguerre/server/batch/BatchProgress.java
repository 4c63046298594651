package daguerre.server.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.JobEvents;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Map;

/** A one-line text progress bar over the steps of a batch's jobs, redrawn from job events. */
final class BatchProgress implements JobEvents {

    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final Map<String, Integer> stepsByJob = new HashMap<>();
    private final Map<String, Integer> doneByJob = new HashMap<>();
    private int totalSteps;
    private int finishedJobs;
    private long lastDraw;
    private long start = System.nanoTime();

    BatchProgress(PrintWriter out) {
        this.out = out;
    }

    /** Follows these jobs (id → steps). */
    synchronized void track(Map<String, Integer> steps) {
        stepsByJob.putAll(steps);
        start = System.nanoTime();
        totalSteps = steps.values().stream().mapToInt(Integer::intValue).sum();
        draw(true);
    }

    @Override
    public synchronized void publish(String jobId, String event, ObjectNode data) {
        Integer steps = stepsByJob.get(jobId);
        if (steps == null) {
            return;
        }
        switch (event) {
            case "progress" -> doneByJob.put(jobId, data.path("step").asInt());
            case "succeeded", "failed", "cancelled" -> {
                doneByJob.put(jobId, steps);
                finishedJobs++;
            }
            default -> {
                return;
            }
        }
        draw(finishedJobs == stepsByJob.size());
    }

    /** Ends the progress line. */
    synchronized void finish() {
        draw(true);
        out.println();
        out.flush();
    }

    private void draw(boolean force) {
        long now = System.nanoTime();
        if (!force && now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        int done = doneByJob.values().stream().mapToInt(Integer::intValue).sum();
        out.print("\r" + line(done, totalSteps, finishedJobs, stepsByJob.size(), (now - start) / 1e9));
        out.flush();
    }

    /**
     * {@code [####------]  40%  3/8 jobs  ETA 1m05s}: the ETA extrapolates the steps done so far over
     * the elapsed time to the steps left ({@code ETA --} before the first step).
     */
    static String line(int doneSteps, int totalSteps, int finishedJobs, int jobs, double elapsedSeconds) {
        double fraction = totalSteps == 0 ? 1 : (double) doneSteps / totalSteps;
        int filled = (int) Math.round(fraction * WIDTH);
        String eta = doneSteps == 0 ? "--" : duration(elapsedSeconds / doneSteps * (totalSteps - doneSteps));
        return String.format("[%s%s] %3d%%  %d/%d jobs  ETA %s ", "#".repeat(filled), "-".repeat(WIDTH - filled),
                Math.round(fraction * 100), finishedJobs, jobs, eta);
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s % 3600 / 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }
}
