package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.function.Supplier;

/** Receives progress between denoising steps. */
@FunctionalInterface
public interface GenerationListener {

    /**
     * Called after each step, on the generating thread.
     *
     * @param step steps done so far (1..total)
     * @param total steps of this job
     * @param preview renders cheap previews of the current estimate of the final images, one per
     *     batch row (computed only when called; empty when the model has no preview)
     */
    void onStep(int step, int total, Supplier<List<BufferedImage>> preview);

    GenerationListener NONE = (step, total, preview) -> { };
}
