package daguerre.diffusion.train.data;

/**
 * The reference colour of an object-colour emoji for the evaluation's object-colour metric.
 *
 * @param colour the colour word of the prompt: red, orange, yellow, green, blue, purple,
 *     brown, black or white
 * @param shape heart, circle or square
 * @param name the emoji's caption name ({@code red heart}, {@code black large square})
 * @param style the art set the colour was measured in
 * @param meanColour the mean sRGB colour of the emoji's fully opaque pixels (alpha 255) in its
 *     64x64 PNG
 */
public record ObjectColourReference(String colour, String shape, String name, EmojiStyle style, Srgb meanColour) {

    /** The mean colour in CIELAB. */
    public Lab lab() {
        return meanColour.lab();
    }

    /** The caption that asks for this emoji on a background. */
    public String caption(PaletteColour background) {
        return EmojiSample.caption(name, style, background);
    }
}
