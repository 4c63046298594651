package daguerre.diffusion.train.data;

import java.awt.image.BufferedImage;
import java.util.Objects;

/**
 * One training example.
 *
 * @param id a stable identifier of the example (file name, plus the background for emoji), for
 *     logs and for caching encoded latents
 * @param caption the text that describes the image
 * @param image an opaque sRGB image ({@link BufferedImage#TYPE_INT_RGB}) of the dataset's square
 *     training size
 */
public record Sample(String id, String caption, BufferedImage image) {

    public Sample {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(caption, "caption");
        Objects.requireNonNull(image, "image");
    }
}
