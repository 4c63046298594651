package daguerre.server.jobs;

/** Receives a job's progress from the engine, on the worker thread. */
@FunctionalInterface
public interface StepListener {

    /**
     * Called after each denoising step.
     *
     * @param step the number of steps done, 1..total
     * @param total the number of steps of the job
     * @param previewPng a preview of the current latents as PNG bytes, or null when the engine made none
     */
    void onStep(int step, int total, byte[] previewPng);

    /** Whether the listener wants a preview at this step; engines may skip decoding previews when false. */
    default boolean wantsPreview(int step) {
        return false;
    }
}
