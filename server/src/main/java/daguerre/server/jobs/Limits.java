package daguerre.server.jobs;

/**
 * Bounds on what one request may ask for.
 *
 * @param maxWidth the largest image width in pixels
 * @param maxHeight the largest image height in pixels
 * @param maxSteps the most denoising steps
 * @param maxBatch the most images in one job
 * @param queueSize the most jobs waiting in the queue (the running ones not counted)
 * @param maxPromptChars the longest prompt (and negative prompt) in characters, checked before tokenizing
 * @param maxPromptChunks the most 75-token chunks the text encoder may cut a prompt (and a negative prompt) into
 * @param maxJobRestarts a job found running at start (the service stopped without re-queueing it) this many
 *                       times is marked failed instead of queued again
 */
public record Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize, int maxPromptChars,
                     int maxPromptChunks, int maxJobRestarts) {

    /** Enough for 32 chunks of ordinary words (about 4-6 characters a token); it keeps tokenizing cheap. */
    public static final int DEFAULT_MAX_PROMPT_CHARS = 20_000;
    /** 32 chunks: 2,400 tokens, far past what a prompt needs; each chunk is one more text-encoder pass. */
    public static final int DEFAULT_MAX_PROMPT_CHUNKS = 32;
    /** Two: a job that was running at a crash runs once more; if the service goes down again while it runs, it fails. */
    public static final int DEFAULT_MAX_JOB_RESTARTS = 2;

    /** The size, step, batch and queue bounds, with the defaults for the others. */
    public Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize) {
        this(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, DEFAULT_MAX_PROMPT_CHARS, DEFAULT_MAX_PROMPT_CHUNKS,
                DEFAULT_MAX_JOB_RESTARTS);
    }

    public Limits withQueueSize(int jobs) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, jobs, maxPromptChars, maxPromptChunks, maxJobRestarts);
    }

    public Limits withPromptLimits(int chars, int chunks) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, chars, chunks, maxJobRestarts);
    }

    public Limits withMaxJobRestarts(int restarts) {
        return new Limits(maxWidth, maxHeight, maxSteps, maxBatch, queueSize, maxPromptChars, maxPromptChunks, restarts);
    }
}
