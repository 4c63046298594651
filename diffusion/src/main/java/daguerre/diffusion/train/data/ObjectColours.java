package daguerre.diffusion.train.data;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The object-colour reference data of the evaluation: coloured hearts, circles and squares. */
public final class ObjectColours {

    /** The colour words of the object-colour prompts. */
    public static final List<String> COLOURS =
            List.of("red", "orange", "yellow", "green", "blue", "purple", "brown", "black", "white");
    /** The shapes of the object-colour prompts. */
    public static final List<String> SHAPES = List.of("heart", "circle", "square");

    private ObjectColours() {}

    /**
     * For every {colour} x {shape} x style that the catalogue has, the emoji and the mean colour
     * of its opaque pixels. The emoji is the default image named {@code {colour} {shape}}, or for
     * squares {@code {colour} large square} when there is no plain one (black and white squares
     * come in four sizes). Order: colour, shape, style.
     */
    public static List<ObjectColourReference> references(EmojiCatalogue catalogue) {
        List<ObjectColourReference> references = new ArrayList<>();
        for (String colour : COLOURS) {
            for (String shape : SHAPES) {
                for (EmojiStyle style : EmojiStyle.values()) {
                    Optional<EmojiImage> image = catalogue.findByName(style, colour + " " + shape);
                    if (image.isEmpty() && shape.equals("square")) {
                        image = catalogue.findByName(style, colour + " large square");
                    }
                    image.ifPresent(found -> references.add(new ObjectColourReference(
                            colour, shape, found.name(), style, meanOpaqueColour(found.file()))));
                }
            }
        }
        return references;
    }

    /**
     * The mean sRGB colour of the fully opaque pixels (alpha 255) of an image file.
     *
     * @throws DatasetException when the image has no opaque pixel
     */
    public static Srgb meanOpaqueColour(Path file) {
        BufferedImage image = ImageOps.read(file);
        int[] argb = ImageOps.argbPixels(image);
        long r = 0;
        long g = 0;
        long b = 0;
        long count = 0;
        for (int pixel : argb) {
            if ((pixel >>> 24) == 0xff) {
                r += (pixel >> 16) & 0xff;
                g += (pixel >> 8) & 0xff;
                b += pixel & 0xff;
                count++;
            }
        }
        if (count == 0) {
            throw new DatasetException("no opaque pixel in " + file);
        }
        return new Srgb((double) r / count, (double) g / count, (double) b / count);
    }
}
