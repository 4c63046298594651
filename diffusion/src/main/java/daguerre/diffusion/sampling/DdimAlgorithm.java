package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.PredictionType;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;

/** DDIM (Song et al. 2020, eq. (12)) with stochasticity eta (eq. (16)); eta 0 is deterministic. */
final class DdimAlgorithm implements SamplerAlgorithm {

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
        PredictionType type = in.plan().config().predictionType();
        long t = schedule.integerTimestep(in.index());
        long prevT = t - schedule.trainTimesteps() / schedule.inferenceSteps();
        float alpha = schedule.alphaCumprod(t);
        float alphaPrev = schedule.alphaCumprodOrFinal(prevT);
        float beta = 1f - alpha;
        float betaPrev = 1f - alphaPrev;

        NDArray x0 = Predictions.vpOriginal(type, in.sample(), in.modelOutput(), alpha);
        NDArray epsilon = Predictions.vpEpsilon(type, in.sample(), in.modelOutput(), alpha);
        // sigma_t(eta) of eq. (16)
        float variance = (betaPrev / beta) * (1f - alpha / alphaPrev);
        float std = (float) in.plan().eta() * sqrt(variance);
        // eq. (12): sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t z
        NDArray direction = epsilon.mul(sqrt(1f - alphaPrev - std * std));
        NDArray prev = x0.mul(sqrt(alphaPrev)).add(direction);
        if (in.plan().eta() > 0) {
            prev = prev.add(in.nextNoise().mul(std));
        }
        return StepOutput.of(prev, x0);
    }
}
