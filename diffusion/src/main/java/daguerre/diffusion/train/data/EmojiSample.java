package daguerre.diffusion.train.data;

import java.awt.image.BufferedImage;
import java.util.Locale;

/**
 * One emoji image on one background colour, before rendering.
 *
 * @param image the emoji picture (style, name, file)
 * @param background the solid background colour
 */
public record EmojiSample(EmojiImage image, PaletteColour background) {

    /** The recipe's caption: {@code {name}, {style} style, on a {colour} background}. */
    public static String caption(String name, EmojiStyle style, PaletteColour background) {
        return name + ", " + style.label() + " style, on a " + background.label() + " background";
    }

    /** This sample's caption, e.g. {@code red heart, noto style, on a blue background}. */
    public String caption() {
        return caption(image.name(), image.style(), background);
    }

    /** A stable id: {@code {style}/{image file}@{colour}}, e.g. {@code noto/2764-fe0f.png@blue}. */
    public String id() {
        return image.style().label() + "/" + image.file().getFileName().toString().toLowerCase(Locale.ROOT)
                + "@" + background.label();
    }

    /**
     * Decodes the emoji PNG, composites it over the background ({@link ImageOps#compositeOver})
     * and resizes it to {@code imageSize} when that differs from the PNG's size.
     */
    public Sample render(int imageSize) {
        BufferedImage composite = ImageOps.compositeOver(ImageOps.read(image.file()), background.rgb());
        if (composite.getWidth() != imageSize || composite.getHeight() != imageSize) {
            composite = ImageOps.resizeAndCenterCrop(composite, imageSize);
        }
        return new Sample(id(), caption(), composite);
    }
}
