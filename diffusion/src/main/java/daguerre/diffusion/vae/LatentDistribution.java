package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Scopes;

/**
 * The diagonal Gaussian the VAE encoder predicts for each latent value (Kingma and Welling 2014):
 * mean and log-variance, both [B, latent, h, w], the log-variance clamped to [-30, 20]. Raw latents:
 * multiply by the config's scaling factor before diffusion.
 */
public record LatentDistribution(NDArray mean, NDArray logvar) {

    /** Standard deviation exp(logvar / 2), a new array in the log-variance's manager. */
    public NDArray std() {
        return Scopes.scoped(() -> logvar.mul(0.5f).exp(), logvar);
    }

    /** A draw mean + std * noise, in the mean's manager, for caller-supplied standard normal {@code noise} of the same shape. */
    public NDArray sample(NDArray noise) {
        if (!noise.getShape().equals(mean.getShape())) {
            throw new IllegalArgumentException("noise shape " + noise.getShape() + " does not match the latent shape " + mean.getShape());
        }
        return Scopes.scoped(() -> mean.add(std().mul(noise)), mean, logvar, noise);
    }
}
