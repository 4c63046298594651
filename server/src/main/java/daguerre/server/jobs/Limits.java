package daguerre.server.jobs;

/**
 * Bounds on what one request may ask for.
 *
 * @param maxWidth the largest image width in pixels
 * @param maxHeight the largest image height in pixels
 * @param maxSteps the most denoising steps
 * @param maxBatch the most images in one job
 * @param queueSize the most jobs waiting in the queue (the running ones not counted)
 * @param maxIterations the most batches one A1111 request may run one after another ({@code n_iter})
 */
public record Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize, int maxIterations) {

    /** The default of {@link #maxIterations}. */
    public static final int DEFAULT_MAX_ITERATIONS = 16;

    /** Limits with the default {@link #maxIterations}. */
    public Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize) {
        this(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, DEFAULT_MAX_ITERATIONS);
    }
}
