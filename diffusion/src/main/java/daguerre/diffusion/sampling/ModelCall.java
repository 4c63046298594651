package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;

/**
 * The model call a job needs for its current step.
 *
 * @param input the model input [B, C, h, w], already scaled for the model (VP form: the Euler family's
 *     {@code x / sqrt(sigma^2 + 1)}); it lives in the manager passed to {@link SamplerState#modelCall}
 * @param timestep the timestep to give the model (an integer for most samplers; Euler-family timesteps
 *     with linspace spacing are fractional float32 values)
 */
public record ModelCall(NDArray input, double timestep) {}
