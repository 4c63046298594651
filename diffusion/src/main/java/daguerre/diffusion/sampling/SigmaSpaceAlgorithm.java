package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;

/**
 * Shared parts of the samplers that keep latents in sigma space, x = x0 + sigma * eps (Euler, Euler a,
 * LMS): their schedule, the model-input scaling and the forward noising.
 */
abstract class SigmaSpaceAlgorithm implements SamplerAlgorithm {

    @Override
    public Schedule schedule(SchedulerConfig config, int steps, double strength) {
        return Schedules.sigmaSpace(config, steps);
    }

    @Override
    public NDArray scaleModelInput(Schedule schedule, int index, NDArray latents) {
        return Predictions.sigmaToVpInput(latents, schedule.sigmas()[index]);
    }

    @Override
    public NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise) {
        return x0.add(noise.mul(schedule.sigmas()[index]));
    }
}
