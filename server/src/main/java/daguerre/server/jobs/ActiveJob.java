package daguerre.server.jobs;

/**
 * A queued or running job, held in memory by the {@link JobQueue} (which guards its state);
 * workers read its params and watch {@link #cancelRequested()}.
 */
public final class ActiveJob implements JobHandle {

    private final String id;
    private final GenerationParams params;
    private final long createdAt;
    private final boolean saveToGallery;
    private volatile int requeued;
    private volatile JobState state = JobState.QUEUED;
    private volatile Long startedAt;
    private volatile int step;
    /** Steps the engine will run (fewer than params' steps for image-to-image); 0 until the first step. */
    private volatile int totalSteps;
    /** This job's own measured milliseconds per step (smoothed), NaN until its first step. */
    private volatile double msPerStep = Double.NaN;
    private volatile boolean cancelRequested;
    private volatile boolean watched;
    private volatile boolean finishEarlyRequested;
    private volatile byte[] lastPreview;
    private volatile EngineResult unsavedResult;

    ActiveJob(String id, GenerationParams params, long createdAt, int requeued, boolean saveToGallery) {
        this.id = id;
        this.params = params;
        this.createdAt = createdAt;
        this.requeued = requeued;
        this.saveToGallery = saveToGallery;
    }

    public String id() {
        return id;
    }

    public GenerationParams params() {
        return params;
    }

    public JobState state() {
        return state;
    }

    /** When it last started running, epoch milliseconds, or null while queued. */
    public Long startedAt() {
        return startedAt;
    }

    public int step() {
        return step;
    }

    /** Whether a client asked to cancel this job while it runs; the worker stops within the layer it is in (see ImageEngine#generate). */
    public boolean cancelRequested() {
        return cancelRequested;
    }

    /**
     * Whether a client asked this running job to stop denoising and return its images as they stand
     * (A1111's interrupt and skip); the job then succeeds with those images.
     */
    public boolean finishEarlyRequested() {
        return finishEarlyRequested;
    }

    /** Whether the job's images go to the gallery; when not, they are held in memory for the one client that waits. */
    public boolean saveToGallery() {
        return saveToGallery;
    }

    /** The images of a finished job that were not saved to the gallery (see {@link #saveToGallery()}), or null. */
    public EngineResult unsavedResult() {
        return unsavedResult;
    }

    void unsavedResult(EngineResult result) {
        this.unsavedResult = result;
    }

    void requestFinishEarly() {
        this.finishEarlyRequested = true;
    }

    void state(JobState state) {
        this.state = state;
    }

    void started(long at) {
        this.startedAt = at;
        this.step = 0;
    }

    void markRequeued() {
        this.requeued++;
        this.startedAt = null;
        this.step = 0;
        this.totalSteps = 0;
        this.msPerStep = Double.NaN;
        this.finishEarlyRequested = false;
    }

    /** The latest preview PNG while it runs, or null. */
    public byte[] lastPreview() {
        return lastPreview;
    }

    void lastPreview(byte[] png) {
        this.lastPreview = png;
    }

    /** The steps the engine runs for this job: as it reported them once it ran one, else the requested steps. */
    public int totalSteps() {
        return totalSteps > 0 ? totalSteps : params.steps();
    }

    double msPerStep() {
        return msPerStep;
    }

    /** Records a finished step: its number, the engine's total and this job's smoothed step time. */
    void stepTaken(int step, int totalSteps, double msPerStep) {
        this.step = step;
        this.totalSteps = totalSteps;
        this.msPerStep = msPerStep;
    }

    /** Whether a client looked at this job through the native API (its status or its event stream). */
    boolean watched() {
        return watched;
    }

    void markWatched() {
        this.watched = true;
    }

    void requestCancel() {
        this.cancelRequested = true;
    }

    JobRecord toRecord() {
        return new JobRecord(id, state, params, createdAt, startedAt, null, step, totalSteps(), null, null,
                java.util.List.of(), requeued);
    }
}
