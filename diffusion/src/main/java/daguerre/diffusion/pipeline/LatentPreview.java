package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Scopes;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A cheap preview of SD latents without the VAE: a fixed linear map from the 4 latent channels to
 * RGB (the "cheap approximation" A1111 uses for SD 1.x/2.x latents), at latent resolution.
 */
public final class LatentPreview {

    /** [4 latent channels, 3 RGB] coefficients, applied to unscaled latents; output in about [-1, 1]. */
    private static final float[] LATENT_TO_RGB = {
        0.298f, 0.207f, 0.208f,
        0.187f, 0.286f, 0.173f,
        -0.158f, 0.189f, 0.264f,
        -0.184f, -0.271f, -0.473f,
    };

    private LatentPreview() {}

    /** Whether latents with this many channels can be previewed. */
    public static boolean supports(int latentChannels) {
        return latentChannels == 4;
    }

    /** @param latents [B, 4, h, w] -> B images of w x h */
    public static List<BufferedImage> render(NDArray latents) {
        try (NDManager scope = latents.getManager().newSubManager()) {
            NDArray map = scope.create(LATENT_TO_RGB, new Shape(4, 3));
            NDArray rgb = Scopes.scoped(() -> latents.transpose(0, 2, 3, 1).matMul(map).transpose(0, 3, 1, 2), map);
            rgb.attach(scope);
            return ImageTensors.toImages(rgb); // [B, 3, h, w]
        }
    }
}
