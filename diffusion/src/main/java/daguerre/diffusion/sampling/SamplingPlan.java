package daguerre.diffusion.sampling;

import daguerre.diffusion.schedule.SchedulerConfig;
import java.util.Objects;

/**
 * What to sample with: one record instead of a long argument list.
 *
 * @param sampler the algorithm
 * @param config the model's scheduler settings
 * @param steps number of inference steps requested (PNDM makes one model call more)
 * @param eta DDIM's stochasticity (0 = deterministic DDIM, 1 = DDPM-like); must be 0 for other samplers
 * @param strength image-to-image strength in (0, 1]: the fraction of the schedule that is run, starting
 *     part-way; 1 for text-to-image
 */
public record SamplingPlan(Sampler sampler, SchedulerConfig config, int steps, double eta, double strength) {

    public SamplingPlan {
        Objects.requireNonNull(sampler, "sampler");
        Objects.requireNonNull(config, "config");
        if (steps < 1 || steps > config.numTrainTimesteps()) {
            throw new IllegalArgumentException(
                    "steps must be in [1, " + config.numTrainTimesteps() + "], got " + steps);
        }
        if (!(eta >= 0 && eta <= 1)) {
            throw new IllegalArgumentException("eta must be in [0, 1], got " + eta);
        }
        if (eta != 0 && sampler != Sampler.DDIM) {
            throw new IllegalArgumentException("eta applies only to DDIM, not to " + sampler.apiName());
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        }
    }

    /** Text-to-image with default eta (0). */
    public static SamplingPlan of(Sampler sampler, SchedulerConfig config, int steps) {
        return new SamplingPlan(sampler, config, steps, 0, 1);
    }

    /** A copy with another DDIM eta. */
    public SamplingPlan withEta(double newEta) {
        return new SamplingPlan(sampler, config, steps, newEta, strength);
    }

    /** A copy with another image-to-image strength. */
    public SamplingPlan withStrength(double newStrength) {
        return new SamplingPlan(sampler, config, steps, eta, newStrength);
    }
}
