package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;

/** Euler's method on the probability-flow ODE dx/dsigma = (x - x0) / sigma (Karras et al. 2022, algorithm 2, no churn). */
final class EulerAlgorithm extends SigmaSpaceAlgorithm {

    @Override
    public StepOutput step(StepInput in) {
        float[] sigmas = in.schedule().sigmas();
        float sigma = sigmas[in.index()];
        NDArray x0 = Predictions.sigmaOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(), sigma);
        NDArray derivative = in.sample().sub(x0).div(sigma);
        float dt = sigmas[in.index() + 1] - sigma;
        return StepOutput.of(in.sample().add(derivative.mul(dt)), x0);
    }
}
