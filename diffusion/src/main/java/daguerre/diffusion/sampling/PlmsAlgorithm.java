package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.PredictionType;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;
import java.util.ArrayList;
import java.util.List;

/**
 * Pseudo linear multistep (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models", eq. (12)),
 * i.e. PNDM with the Runge-Kutta warm-up skipped: the first step is repeated at the same timestep to get
 * a second model output, then Adams-Bashforth combinations of up to four past outputs are fed to the
 * transfer function phi of eq. (11).
 *
 * <p>History: the last (up to four) raw model outputs; held sample: the latents of the first step, which
 * the repeated second call restarts from.
 */
final class PlmsAlgorithm implements SamplerAlgorithm {

    @Override
    public Schedule schedule(SchedulerConfig config, int steps, double strength) {
        return Schedules.plms(config, steps);
    }

    @Override
    public NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise) {
        return Predictions.vpNoised(x0, noise, schedule.alphaCumprod(schedule.integerTimestep(index)));
    }

    @Override
    public StepOutput step(StepInput in) {
        Schedule schedule = in.schedule();
        int counter = in.stepsTaken();
        int stride = schedule.trainTimesteps() / schedule.inferenceSteps();
        long t = schedule.integerTimestep(in.index());
        long prevT = t - stride;

        List<NDArray> outputs = new ArrayList<>(in.history());
        if (counter != 1) {
            while (outputs.size() > 3) {
                outputs.remove(0);
            }
            outputs.add(in.modelOutput().duplicate()); // kept beyond this call: the caller owns modelOutput
        } else {
            // the repeated call: step again from the first latents, from t + stride to t
            prevT = t;
            t = t + stride;
        }

        NDArray sample = in.sample();
        NDArray held = in.heldSample();
        NDArray combined;
        int n = outputs.size();
        if (n == 1 && counter == 0) {
            combined = in.modelOutput();
            held = in.sample().duplicate();
        } else if (n == 1 && counter == 1) {
            combined = in.modelOutput().add(outputs.get(0)).div(2f);
            sample = held;
            held = null;
        } else if (n == 2) {
            combined = outputs.get(1).mul(3f).sub(outputs.get(0)).div(2f);
        } else if (n == 3) {
            combined = outputs.get(2).mul(23f).sub(outputs.get(1).mul(16f)).add(outputs.get(0).mul(5f)).div(12f);
        } else {
            combined = outputs.get(3).mul(55f).sub(outputs.get(2).mul(59f)).add(outputs.get(1).mul(37f))
                    .sub(outputs.get(0).mul(9f)).mul(1f / 24f);
        }

        NDArray prev = transfer(in.plan().config().predictionType(), schedule, sample, t, prevT, combined);
        float alphaNow = schedule.alphaCumprod(schedule.integerTimestep(in.index()));
        NDArray x0 = Predictions.vpOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(),
                alphaNow);
        return new StepOutput(prev, x0, outputs, held);
    }

    /** The transfer phi(x_t, eps, t, t_prev) of eq. (11), from t to prevT. */
    private static NDArray transfer(PredictionType type, Schedule schedule, NDArray sample, long t, long prevT,
                                    NDArray modelOutput) {
        float alpha = schedule.alphaCumprod(t);
        float alphaPrev = schedule.alphaCumprodOrFinal(prevT);
        float beta = 1f - alpha;
        float betaPrev = 1f - alphaPrev;
        NDArray epsilon = Predictions.vpEpsilon(type, sample, modelOutput, alpha);
        float sampleCoefficient = sqrt(alphaPrev / alpha);
        float denominator = alpha * sqrt(betaPrev) + sqrt(alpha * beta * alphaPrev);
        return sample.mul(sampleCoefficient).sub(epsilon.mul(alphaPrev - alpha).div(denominator));
    }
}
