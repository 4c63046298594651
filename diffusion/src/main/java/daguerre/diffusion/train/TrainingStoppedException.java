package daguerre.diffusion.train;

/** Thrown by {@link Trainer#run} after it checkpointed because the JVM was asked to stop. */
public final class TrainingStoppedException extends RuntimeException {

    private final String stage;
    private final long step;

    public TrainingStoppedException(String stage, long step) {
        super("training stopped in stage " + stage + " at step " + step + "; run the same command again to resume");
        this.stage = stage;
        this.step = step;
    }

    public String stage() {
        return stage;
    }

    public long step() {
        return step;
    }
}
