package daguerre.diffusion.train.data;

import java.nio.file.Path;

/**
 * One emoji picture of one style: a base emoji's default image or one of its skin-tone variants.
 *
 * @param style the art set
 * @param baseUnified the base emoji's code points as emoji.json writes them ({@code 1F385},
 *     {@code 2764-FE0F}); the same for the base image and all its skin-tone variants
 * @param unified this image's own code points ({@code 1F385-1F3FB} for a toned variant)
 * @param name the name used in captions ({@code red heart}, {@code santa claus light skin tone})
 * @param category emoji.json's category ({@code Flags}, {@code Smileys & Emotion}, ...)
 * @param file the 64x64 RGBA PNG
 * @param toned whether this is a skin-tone variant rather than the default image
 */
public record EmojiImage(
        EmojiStyle style, String baseUnified, String unified, String name, String category, Path file, boolean toned) {

    /** emoji.json's category of flags. */
    public static final String FLAGS = "Flags";

    /** Whether this emoji is a flag. */
    public boolean flag() {
        return FLAGS.equals(category);
    }
}
