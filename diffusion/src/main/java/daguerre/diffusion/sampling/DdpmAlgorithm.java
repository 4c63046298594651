package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;

/** DDPM ancestral sampling with the "fixed_small" posterior variance (Ho et al. 2020, eqs. (6), (7)). */
final class DdpmAlgorithm implements SamplerAlgorithm {

    @Override
    public Schedule schedule(SchedulerConfig config, int steps, double strength) {
        return Schedules.discrete(config, steps);
    }

    @Override
    public NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise) {
        return Predictions.vpNoised(x0, noise, schedule.alphaCumprod(schedule.integerTimestep(index)));
    }

    @Override
    public StepOutput step(StepInput in) {
        Schedule schedule = in.schedule();
        long t = schedule.integerTimestep(in.index());
        long prevT = t - schedule.trainTimesteps() / schedule.inferenceSteps();
        float alpha = schedule.alphaCumprod(t);
        float alphaPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : 1f;
        float beta = 1f - alpha;
        float betaPrev = 1f - alphaPrev;
        float currentAlpha = alpha / alphaPrev;
        float currentBeta = 1f - currentAlpha;

        NDArray x0 = Predictions.vpOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(), alpha);
        // posterior mean mu~(x_t, x0), eq. (7)
        float x0Coefficient = (sqrt(alphaPrev) * currentBeta) / beta;
        float sampleCoefficient = sqrt(currentAlpha) * betaPrev / beta;
        NDArray prev = x0.mul(x0Coefficient).add(in.sample().mul(sampleCoefficient));
        if (t > 0) {
            // posterior variance beta~_t = (1 - a_prev) / (1 - a_t) * beta_t, eq. (7)
            float variance = Math.max(betaPrev / beta * currentBeta, 1e-20f);
            prev = prev.add(in.nextNoise().mul(sqrt(variance)));
        }
        return StepOutput.of(prev, x0);
    }
}
