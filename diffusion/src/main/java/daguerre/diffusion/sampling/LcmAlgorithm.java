package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;

/**
 * Latent consistency multistep sampling (Luo et al. 2023, algorithm 1): each step maps x_t to the
 * consistency function's x0 with the boundary-condition scalings c_skip, c_out (Song et al. 2023,
 * "Consistency Models", eq. (7), sigma_data 0.5), then re-noises it to the next timestep. The result is the
 * last step's x0 estimate.
 */
final class LcmAlgorithm implements SamplerAlgorithm {

    /** The distillation grid size the LCM checkpoints use. */
    static final int ORIGINAL_INFERENCE_STEPS = 50;
    /** LCM's timestep scaling in the boundary-condition scalings. */
    static final float TIMESTEP_SCALING = 10f;
    private static final float SIGMA_DATA_SQUARED = 0.25f;

    @Override
    public Schedule schedule(SchedulerConfig config, int steps, double strength) {
        return Schedules.lcm(config, steps, ORIGINAL_INFERENCE_STEPS, strength);
    }

    /** LCM's image-to-image shortens the distillation grid instead (see {@link #schedule}): start at 0. */
    @Override
    public int startIndex(Schedule schedule, int steps, double strength) {
        return 0;
    }

    @Override
    public NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise) {
        return Predictions.vpNoised(x0, noise, schedule.alphaCumprod(schedule.integerTimestep(index)));
    }

    @Override
    public StepOutput step(StepInput in) {
        Schedule schedule = in.schedule();
        long t = schedule.integerTimestep(in.index());
        long prevT = in.isLastCall() ? t : schedule.integerTimestep(in.index() + 1);
        float alpha = schedule.alphaCumprod(t);
        float alphaPrev = schedule.alphaCumprodOrFinal(prevT);
        float betaPrev = 1f - alphaPrev;

        float scaled = t * TIMESTEP_SCALING;
        float cSkip = SIGMA_DATA_SQUARED / (scaled * scaled + SIGMA_DATA_SQUARED);
        float cOut = scaled / sqrt(scaled * scaled + SIGMA_DATA_SQUARED);

        NDArray x0 = Predictions.vpOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(), alpha);
        NDArray denoised = x0.mul(cOut).add(in.sample().mul(cSkip));
        if (in.isLastCall()) {
            return StepOutput.of(denoised, denoised);
        }
        NDArray prev = denoised.mul(sqrt(alphaPrev)).add(in.nextNoise().mul(sqrt(betaPrev)));
        return StepOutput.of(prev, denoised);
    }

    @Override
    public boolean resultIsDenoised() {
        return true;
    }
}
