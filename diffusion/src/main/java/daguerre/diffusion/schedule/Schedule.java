package daguerre.diffusion.schedule;

/**
 * Everything a sampler needs to know about one job's noise levels: the timestep of every model call and
 * the matching sigmas, plus the training alpha-bar table for the samplers that step in VP form.
 *
 * <p>Arrays are shared, not copied: treat them as read-only.
 *
 * @param timesteps the timestep passed to the model at each call, in calling order; integers for the VP
 *     samplers (DDPM, DDIM, PNDM, DPM++, LCM), float32 values for Euler / Euler a / LMS (linspace spacing
 *     gives fractional ones). PNDM repeats one timestep, so it has {@code inferenceSteps + 1} entries.
 * @param sigmas noise level sigma = sqrt((1 - a) / a) at each call plus the final one, so
 *     {@code timesteps.length + 1} entries; the sigma-space samplers step on these (Karras sigmas for DPM++
 *     Karras); for DDPM/DDIM/PNDM/LCM they are informational (sigma at each timestep, then 0).
 * @param alphasCumprod alpha-bar for every training timestep (length {@code num_train_timesteps})
 * @param finalAlphaCumprod the alpha-bar DDIM/PNDM/LCM step towards after the last timestep
 *     (1 with {@code set_alpha_to_one}, else {@code alphasCumprod[0]})
 * @param initNoiseSigma standard deviation of the initial latents (1 for VP samplers, about sigma_max for
 *     the Euler family)
 * @param inferenceSteps the number of inference steps requested
 */
public record Schedule(
        double[] timesteps,
        float[] sigmas,
        float[] alphasCumprod,
        float finalAlphaCumprod,
        float initNoiseSigma,
        int inferenceSteps) {

    public Schedule {
        if (timesteps.length == 0) {
            throw new IllegalArgumentException("a schedule needs at least one timestep");
        }
        if (sigmas.length != timesteps.length + 1) {
            throw new IllegalArgumentException("expected " + (timesteps.length + 1) + " sigmas, got " + sigmas.length);
        }
    }

    /** The number of model calls this schedule makes. */
    public int modelCalls() {
        return timesteps.length;
    }

    /** alpha-bar at an integer training timestep. */
    public float alphaCumprod(long timestep) {
        if (timestep < 0 || timestep >= alphasCumprod.length) {
            throw new IllegalArgumentException("timestep " + timestep + " outside [0, " + alphasCumprod.length + ")");
        }
        return alphasCumprod[(int) timestep];
    }

    /** alpha-bar at a timestep, or {@link #finalAlphaCumprod} for a negative (past the end) one. */
    public float alphaCumprodOrFinal(long timestep) {
        return timestep >= 0 ? alphaCumprod(timestep) : finalAlphaCumprod;
    }

    /** The timestep of model call {@code index} as an integer, failing if it is fractional. */
    public long integerTimestep(int index) {
        double t = timesteps[index];
        if (t != Math.rint(t)) {
            throw new IllegalStateException("timestep " + t + " at index " + index + " is not an integer");
        }
        return (long) t;
    }

    /** The number of training timesteps. */
    public int trainTimesteps() {
        return alphasCumprod.length;
    }
}
