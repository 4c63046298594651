package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/**
 * One generated image with the seed that made it and its parameters.
 *
 * @param image 8-bit RGB
 * @param seed the seed of this image's noise
 * @param infotext its parameters in A1111's format
 */
public record GeneratedImage(BufferedImage image, long seed, Infotext infotext) {

    /** PNG bytes carrying the infotext in a {@code parameters} text chunk, as A1111 writes them. */
    public byte[] png() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return PngText.withText(out.toByteArray(), "parameters", infotext.format());
    }
}
