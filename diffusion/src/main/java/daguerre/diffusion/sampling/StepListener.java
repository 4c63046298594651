package daguerre.diffusion.sampling;

/** Told after every finished sampler step. */
@FunctionalInterface
public interface StepListener {

    /** @param step model calls done so far (1-based) @param total model calls this job makes */
    void onStep(int step, int total);
}
