package daguerre.server.gallery;

import daguerre.server.files.AtomicFiles;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.imgscalr.Scalr;

/** Gallery thumbnails: made once from the image, written atomically, then served from their file. */
public final class Thumbnails {

    private Thumbnails() {}

    /** {@code thumbnail}, made from {@code source} unless it exists: at most {@link Gallery#THUMBNAIL_SIZE} on its longest side, never enlarged. */
    public static Path ensure(Path source, Path thumbnail) throws IOException {
        if (!Files.isRegularFile(thumbnail)) {
            BufferedImage image = ImageIO.read(source.toFile());
            BufferedImage small = Math.max(image.getWidth(), image.getHeight()) <= Gallery.THUMBNAIL_SIZE ? image
                    : Scalr.resize(image, Scalr.Method.QUALITY, Scalr.Mode.AUTOMATIC, Gallery.THUMBNAIL_SIZE);
            ByteArrayOutputStream png = new ByteArrayOutputStream();
            ImageIO.write(small, "png", png);
            AtomicFiles.write(thumbnail, png.toByteArray());
        }
        return thumbnail;
    }
}
