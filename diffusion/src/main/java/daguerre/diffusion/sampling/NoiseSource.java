package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Where a job's Gaussian noise comes from: the initial latents and the fresh noise of stochastic samplers
 * (DDPM, DDIM with eta &gt; 0, Euler a, LCM) are drawn from it in order. One instance per job: it carries
 * the job's generator positions, so it is part of the job's state.
 */
public interface NoiseSource {

    /**
     * The next standard-normal float32 tensor of {@code shape} ([B, C, h, w]), created in {@code manager}.
     */
    NDArray next(Shape shape, NDManager manager);
}
