package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Scopes;
import java.util.Objects;

/**
 * The KL-regularised autoencoder of Stable Diffusion (Rombach et al. 2022), as diffusers'
 * {@code AutoencoderKL}. Keys {@code encoder}, {@code decoder}, {@code quant_conv},
 * {@code post_quant_conv}.
 *
 * <p>It works on RAW latents: {@link #decode} expects latents already divided by
 * {@link VaeConfig#scalingFactor()}, and {@link #encode}'s distribution must be multiplied by it
 * before diffusion. That scaling is the caller's (the pipeline's) job. Outputs are created in the
 * input's manager; weights stay in the manager they were loaded into.
 */
public final class AutoencoderKL extends Module {

    /** Epsilon of every GroupNorm in the VAE. */
    static final float NORM_EPS = 1e-6f;

    private final VaeConfig config;
    private final VaeEncoder encoder;
    private final VaeDecoder decoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;

    public AutoencoderKL(VaeConfig config) {
        this.config = config;
        int latent = config.latentChannels();
        this.encoder = child("encoder", new VaeEncoder(config));
        this.decoder = child("decoder", new VaeDecoder(config));
        this.quantConv = child("quant_conv", new Conv2d(2 * latent, 2 * latent, 1, 1, 0));
        this.postQuantConv = child("post_quant_conv", new Conv2d(latent, latent, 1, 1, 0));
    }

    public VaeConfig config() {
        return config;
    }

    private volatile Kernels kernels = Kernels.ALL;

    /** The fused kernels this network's passes use (default: all). */
    public Kernels kernels() {
        return kernels;
    }

    /** Uses {@code kernels} in this network's passes from now on. */
    public void useKernels(Kernels kernels) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
    }

    /** Raw latents [B, latent, h, w] -> images [B, out_channels, h * f, w * f], roughly in [-1, 1], not clamped. */
    public NDArray decode(NDArray z) {
        return decode(z, null);
    }

    /**
     * As {@link #decode(NDArray)}, recording {@code post_quant_conv} and {@code decoder.*}
     * intermediates (null: none).
     */
    public NDArray decode(NDArray z, Capture capture) {
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != config.latentChannels()) {
            throw new IllegalArgumentException("VAE latents must be [B, " + config.latentChannels() + ", h, w], got " + z.getShape());
        }
        return kernels.run(this, () -> Scopes.scoped(() -> {
            NDArray h = Capture.record(capture, "post_quant_conv", postQuantConv.forward(z));
            return decoder.forward(h, Capture.child(capture, "decoder"));
        }, z));
    }

    /** Images [B, in_channels, H, W] in [-1, 1] -> the latent distribution (raw, unscaled), in the image's manager. */
    public LatentDistribution encode(NDArray x) {
        return encode(x, null);
    }

    /** As {@link #encode(NDArray)}, recording {@code encoder.*} and {@code quant_conv} intermediates (null: none). */
    public LatentDistribution encode(NDArray x, Capture capture) {
        if (x.getShape().dimension() != 4 || x.getShape().get(1) != config.inChannels()) {
            throw new IllegalArgumentException("VAE images must be [B, " + config.inChannels() + ", H, W], got " + x.getShape());
        }
        NDArray moments = kernels.run(this, () -> Scopes.scoped(() -> Capture.record(capture, "quant_conv",
                quantConv.forward(encoder.forward(x, Capture.child(capture, "encoder")))), x));
        // [B, 2L, h, w] -> mean [B, L, h, w], log-variance [B, L, h, w]
        long latent = config.latentChannels();
        try (moments; NDArray rawLogvar = moments.get(new NDIndex(":, {}:", latent))) {
            NDArray mean = moments.get(new NDIndex(":, :{}", latent));
            NDArray logvar = Scopes.scoped(() -> rawLogvar.clip(-30f, 20f), rawLogvar);
            return new LatentDistribution(mean, logvar);
        }
    }
}
