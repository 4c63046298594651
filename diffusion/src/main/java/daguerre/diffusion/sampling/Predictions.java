package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.schedule.PredictionType;

/**
 * Converting raw model outputs (epsilon or v) into clean-latent (x0) and noise estimates, with scalars in
 * float32 in the same order of operations as diffusers.
 */
final class Predictions {

    private Predictions() {}

    static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }

    /**
     * x0 from VP latents x_t = sqrt(a) x0 + sqrt(1 - a) eps:
     * epsilon: x0 = (x - sqrt(1 - a) eps) / sqrt(a) (DDPM eq. (15), Ho et al. 2020);
     * v: x0 = sqrt(a) x - sqrt(1 - a) v (Salimans and Ho 2022, section 4).
     */
    static NDArray vpOriginal(PredictionType type, NDArray sample, NDArray modelOutput, float alphaCumprod) {
        float beta = 1f - alphaCumprod;
        return switch (type) {
            case EPSILON -> sample.sub(modelOutput.mul(sqrt(beta))).div(sqrt(alphaCumprod));
            case V_PREDICTION -> sample.mul(sqrt(alphaCumprod)).sub(modelOutput.mul(sqrt(beta)));
        };
    }

    /** eps from VP latents: the output itself, or eps = sqrt(a) v + sqrt(1 - a) x for v-prediction. */
    static NDArray vpEpsilon(PredictionType type, NDArray sample, NDArray modelOutput, float alphaCumprod) {
        return switch (type) {
            case EPSILON -> modelOutput;
            case V_PREDICTION -> modelOutput.mul(sqrt(alphaCumprod)).add(sample.mul(sqrt(1f - alphaCumprod)));
        };
    }

    /**
     * x0 from sigma-space latents x = x0 + sigma eps (k-diffusion preconditioning, Karras et al. 2022
     * table 1 with sigma_data 1): epsilon: x0 = x - sigma eps; v: x0 = -sigma / sqrt(sigma^2 + 1) v +
     * x / (sigma^2 + 1).
     */
    static NDArray sigmaOriginal(PredictionType type, NDArray sample, NDArray modelOutput, float sigma) {
        return switch (type) {
            case EPSILON -> sample.sub(modelOutput.mul(sigma));
            case V_PREDICTION -> {
                float scale = sigma * sigma + 1f;
                yield modelOutput.mul(-sigma / sqrt(scale)).add(sample.div(scale));
            }
        };
    }

    /** Sigma-space latents to the model's VP input: x / sqrt(sigma^2 + 1). */
    static NDArray sigmaToVpInput(NDArray latents, float sigma) {
        return latents.div(sqrt(sigma * sigma + 1f));
    }

    /** VP forward noising q(x_t | x0): sqrt(a) x0 + sqrt(1 - a) noise (DDPM eq. (4), Ho et al. 2020). */
    static NDArray vpNoised(NDArray x0, NDArray noise, float alphaCumprod) {
        return x0.mul(sqrt(alphaCumprod)).add(noise.mul(sqrt(1f - alphaCumprod)));
    }
}
