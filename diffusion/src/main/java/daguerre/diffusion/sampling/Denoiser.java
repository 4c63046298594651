package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;

/**
 * The network as the samplers see it: the raw model output (epsilon or v, as the scheduler config's
 * prediction type says) for a model input [B, C, h, w] at a timestep. Classifier-free guidance and
 * guidance rescale are decorators of this interface.
 */
@FunctionalInterface
public interface Denoiser {

    /** Raw model output [B, C, h, w] for {@code input} at {@code timestep}. */
    NDArray predict(NDArray input, double timestep);
}
