package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.PredictionType;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;
import java.util.List;

/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", algorithm 2) in data-prediction form with the midpoint
 * second-order correction; latents stay in VP form. The first step (no history) and the last step (towards
 * sigma 0) are first order.
 *
 * <p>History: the previous step's x0 estimate.
 */
final class DpmSolverPlusPlus2MAlgorithm implements SamplerAlgorithm {

    private final boolean karras;

    DpmSolverPlusPlus2MAlgorithm(boolean karras) {
        this.karras = karras;
    }

    @Override
    public Schedule schedule(SchedulerConfig config, int steps, double strength) {
        return Schedules.dpmSolver(config, steps, karras);
    }

    @Override
    public NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise) {
        float sigma = schedule.sigmas()[index];
        float alphaT = alpha(sigma);
        return x0.mul(alphaT).add(noise.mul(sigma * alphaT));
    }

    @Override
    public StepOutput step(StepInput in) {
        float[] sigmas = in.schedule().sigmas();
        int i = in.index();
        float sigmaS = sigmas[i];
        float alphaS = alpha(sigmaS);
        float sigmaTS = sigmaS * alphaS;
        NDArray x0 = dataPrediction(in.plan().config().predictionType(), in.sample(), in.modelOutput(),
                alphaS, sigmaTS);

        float sigmaNext = sigmas[i + 1];
        float alphaT = alpha(sigmaNext);
        float sigmaT = sigmaNext * alphaT;
        float lambdaT = logSnr(alphaT, sigmaT);
        float lambdaS = logSnr(alphaS, sigmaTS);
        float h = lambdaT - lambdaS;
        float phi = alphaT * ((float) Math.exp(-h) - 1f);

        NDArray prev;
        if (in.history().isEmpty() || in.isLastCall()) {
            // first order (DPM-Solver++ 1 = DDIM): x_t = sigma_t / sigma_s x - alpha_t (e^-h - 1) x0
            prev = in.sample().mul(sigmaT / sigmaTS).sub(x0.mul(phi));
        } else {
            NDArray previousX0 = in.history().get(0);
            float sigmaPrev = sigmas[i - 1];
            float alphaP = alpha(sigmaPrev);
            float lambdaP = logSnr(alphaP, sigmaPrev * alphaP);
            float r0 = (lambdaS - lambdaP) / h;
            // D1 = (x0_s - x0_prev) / r0; midpoint: x_t = sigma_t / sigma_s x - phi D0 - 0.5 phi D1
            NDArray d1 = x0.sub(previousX0).mul(1f / r0);
            prev = in.sample().mul(sigmaT / sigmaTS).sub(x0.mul(phi)).sub(d1.mul(0.5f * phi));
        }
        return new StepOutput(prev, x0, List.of(x0), null);
    }

    /** alpha_t = 1 / sqrt(sigma^2 + 1) for VP latents at noise level sigma. */
    private static float alpha(float sigma) {
        return 1f / sqrt(sigma * sigma + 1f);
    }

    /** lambda = log(alpha_t / sigma_t), the half log-SNR; +infinity at sigma 0. */
    private static float logSnr(float alphaT, float sigmaT) {
        return (float) Math.log(alphaT) - (float) Math.log(sigmaT);
    }

    private static NDArray dataPrediction(PredictionType type, NDArray sample, NDArray modelOutput, float alphaT,
                                          float sigmaT) {
        return switch (type) {
            case EPSILON -> sample.sub(modelOutput.mul(sigmaT)).div(alphaT);
            case V_PREDICTION -> sample.mul(alphaT).sub(modelOutput.mul(sigmaT));
        };
    }
}
