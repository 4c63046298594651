package daguerre.diffusion.train;

import java.nio.file.Path;

/** Receives the trainer's progress (on the training thread). */
public interface TrainingListener {

    /** After every step. */
    void onStep(TrainingProgress progress);

    /** After a checkpoint was written. */
    default void onCheckpoint(Path folder) {}

    /** A one-line note: stage started or finished, resumed, CPU peak measured, model exported. */
    default void onMessage(String message) {}

    /** A listener that ignores everything. */
    TrainingListener NONE = progress -> { };
}
