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

    BatchProgress(PrintWriter out) {
        this.out = out;
    }

    /** Follows these jobs (id → steps). */
    synchronized void track(Map<String, Integer> steps) {
        stepsByJob.putAll(steps);
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
        double fraction = totalSteps == 0 ? 1 : (double) done / totalSteps;
        int filled = (int) Math.round(fraction * WIDTH);
        out.printf("\r[%s%s] %3d%%  %d/%d jobs", "#".repeat(filled), "-".repeat(WIDTH - filled), Math.round(fraction * 100),
                finishedJobs, stepsByJob.size());
        out.flush();
    }
}
