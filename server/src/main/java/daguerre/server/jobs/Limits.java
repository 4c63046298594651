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
 * @param maxPromptChars the longest prompt (and negative prompt) in characters, checked before tokenizing
 * @param maxPromptChunks the most 75-token chunks the text encoder may cut a prompt (and a negative prompt) into
 * @param maxJobRestarts a job found running at start (the service stopped without re-queueing it) this many
 *                       times is marked failed instead of queued again
 * @param maxPixels the largest image area (width x height) on every model; 0: {@value #NATIVE_AREA_FACTOR} times
 *                  each model's native area (its default width x height)
 * @param maxJobCost the most a job may cost, in megapixel-steps: steps x width x height x images / 10^6
 * @param maxBatchLines the most prompt lines (non-blank lines) in one batch file
 */
public record Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize, int maxIterations, int maxPromptChars,
                     int maxPromptChunks, int maxJobRestarts, int maxPixels, int maxJobCost, int maxBatchLines) {

    /** The default of {@link #maxIterations}. */
    public static final int DEFAULT_MAX_ITERATIONS = 16;
    /** Enough for 32 chunks of ordinary words (about 4-6 characters a token); it keeps tokenizing cheap. */
    public static final int DEFAULT_MAX_PROMPT_CHARS = 20_000;
    /** 32 chunks: 2,400 tokens, far past what a prompt needs; each chunk is one more text-encoder pass. */
    public static final int DEFAULT_MAX_PROMPT_CHUNKS = 32;
    /** Two: a job that was running at a crash runs once more; if the service goes down again while it runs, it fails. */
    public static final int DEFAULT_MAX_JOB_RESTARTS = 2;
    /** Without {@code --max-pixels}, a model allows this many times its native area (twice its native width and height). */
    public static final int NATIVE_AREA_FACTOR = 4;
    /**
     * 150 megapixel-steps: SD 1.5 at 512x512 with 100 steps and 4 images (105), or at 1024x1024 with 50 steps
     * and 2 images, but not 150 steps and 8 images at 512x512 (315: some two hours on the CPU of
     * docs/performance.md, 5.7 s a 512 px step).
     */
    public static final int DEFAULT_MAX_JOB_COST = 150;
    /** A thousand jobs per batch file. */
    public static final int DEFAULT_MAX_BATCH_LINES = 1000;

    /** The size, step, batch and queue bounds, with the defaults for the others. */
    public Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize) {
        this(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, DEFAULT_MAX_ITERATIONS, DEFAULT_MAX_PROMPT_CHARS, DEFAULT_MAX_PROMPT_CHUNKS,
                DEFAULT_MAX_JOB_RESTARTS, 0, DEFAULT_MAX_JOB_COST, DEFAULT_MAX_BATCH_LINES);
    }

    public Limits withMaxIterations(int iterations) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, iterations, maxPromptChars, maxPromptChunks, maxJobRestarts,
                maxPixels, maxJobCost, maxBatchLines);
    }

    public Limits withQueueSize(int jobs) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, jobs, maxIterations, maxPromptChars, maxPromptChunks, maxJobRestarts, maxPixels,
                maxJobCost, maxBatchLines);
    }

    public Limits withPromptLimits(int chars, int chunks) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxIterations, chars, chunks, maxJobRestarts, maxPixels, maxJobCost,
                maxBatchLines);
    }

    public Limits withMaxJobRestarts(int restarts) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxIterations, maxPromptChars, maxPromptChunks, restarts, maxPixels,
                maxJobCost, maxBatchLines);
    }

    /** @param pixels the largest area on every model; 0: {@value #NATIVE_AREA_FACTOR} times each model's native area */
    public Limits withMaxPixels(int pixels) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxIterations, maxPromptChars, maxPromptChunks, maxJobRestarts, pixels,
                maxJobCost, maxBatchLines);
    }

    public Limits withMaxJobCost(int megapixelSteps) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxIterations, maxPromptChars, maxPromptChunks, maxJobRestarts,
                maxPixels, megapixelSteps, maxBatchLines);
    }

    /** The largest image area {@code model} allows: {@link #maxPixels()}, or without one its native area times {@value #NATIVE_AREA_FACTOR}. */
    public long maxPixels(ModelDescriptor model) {
        return maxPixels > 0 ? maxPixels : (long) NATIVE_AREA_FACTOR * model.defaultWidth() * model.defaultHeight();
    }

    /** A job's cost in megapixel-steps: steps x width x height x images / 10^6. */
    public static double megapixelSteps(int steps, int width, int height, long images) {
        return (double) steps * width * height * images / 1e6;
    }

    public Limits withMaxBatchLines(int lines) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxIterations, maxPromptChars, maxPromptChunks, maxJobRestarts,
                maxPixels, maxJobCost, lines);
    }
}
