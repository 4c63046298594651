package daguerre.diffusion.sampling;

import static daguerre.diffusion.sampling.Predictions.sqrt;

import ai.djl.ndarray.NDArray;

/**
 * Euler ancestral (k-diffusion's sample_euler_ancestral): an Euler step down to sigma_down, then fresh
 * noise of size sigma_up, with sigma_down^2 + sigma_up^2 = sigma_next^2.
 */
final class EulerAncestralAlgorithm extends SigmaSpaceAlgorithm {

    @Override
    public StepOutput step(StepInput in) {
        float[] sigmas = in.schedule().sigmas();
        float sigma = sigmas[in.index()];
        float sigmaNext = sigmas[in.index() + 1];
        NDArray x0 = Predictions.sigmaOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(), sigma);
        float sigmaUp = sqrt(sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext) / (sigma * sigma));
        float sigmaDown = sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
        NDArray derivative = in.sample().sub(x0).div(sigma);
        float dt = sigmaDown - sigma;
        NDArray prev = in.sample().add(derivative.mul(dt));
        prev = prev.add(in.nextNoise().mul(sigmaUp));
        return StepOutput.of(prev, x0);
    }
}
