package daguerre.server.jobs;

/**
 * A job the caller submitted, or one that runs, as the HTTP routes follow it: in one process the
 * queue's {@link ActiveJob}, in a cluster the api node's view of a job a worker runs.
 */
public interface JobHandle {

    String id();

    JobState state();

    /** Steps done so far. */
    int step();

    /** The steps the engine runs for this job (both passes of a hires fix), as far as known. */
    int totalSteps();

    /** The latest preview PNG while it runs, or null. */
    byte[] lastPreview();

    /** Whether a client asked to cancel it while it runs. */
    boolean cancelRequested();

    /** Whether a client asked it to stop denoising and finish with its images as they stand (A1111's interrupt and skip). */
    boolean finishEarlyRequested();

    /**
     * The images of a finished job submitted with {@code saveToGallery} false, once
     * {@link JobService#completion} completed, or null.
     */
    EngineResult unsavedResult();
}
