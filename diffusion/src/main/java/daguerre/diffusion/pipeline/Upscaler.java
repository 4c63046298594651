package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import java.awt.image.BufferedImage;

/**
 * One hires-fix upscaler, known by its A1111 name ({@link Upscalers} lists them). It works either on the
 * first pass's latents ({@link Latent}) or on its decoded images ({@link Pixel}); a learned upscaler
 * (an ESRGAN-family network) would be a {@link Pixel} one.
 */
public sealed interface Upscaler permits Upscaler.Latent, Upscaler.Pixel {

    /** The A1111 name ({@code hr_upscaler}). */
    String name();

    /** Upscales latents before they are decoded. */
    non-sealed interface Latent extends Upscaler {
        /** Latents [B, C, h, w] to [B, C, height, width], a new array in their manager. */
        NDArray upscale(NDArray latents, int height, int width);
    }

    /** Upscales decoded images; the result is encoded again for the second pass. */
    non-sealed interface Pixel extends Upscaler {
        /** {@code image} resized to exactly {@code width} x {@code height}. */
        BufferedImage upscale(BufferedImage image, int width, int height);
    }
}
