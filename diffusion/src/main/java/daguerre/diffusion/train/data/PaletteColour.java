package daguerre.diffusion.train.data;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/** The background colours of the emoji recipe (sRGB), in the order the recipe numbers them. */
public enum PaletteColour {
    WHITE(255, 255, 255),
    BLACK(0, 0, 0),
    GRAY(128, 128, 128),
    RED(220, 40, 40),
    ORANGE(245, 140, 30),
    YELLOW(250, 215, 40),
    GREEN(40, 170, 70),
    BLUE(40, 90, 220),
    PURPLE(140, 60, 200),
    PINK(245, 130, 190);

    private final int red;
    private final int green;
    private final int blue;

    PaletteColour(int red, int green, int blue) {
        this.red = red;
        this.green = green;
        this.blue = blue;
    }

    /** The word used in captions: {@code "white"}, {@code "gray"}, ... */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The packed {@code 0xRRGGBB} value. */
    public int rgb() {
        return (red << 16) | (green << 8) | blue;
    }

    /** The colour as sRGB components. */
    public Srgb srgb() {
        return new Srgb(red, green, blue);
    }

    /** The colour in CIELAB. */
    public Lab lab() {
        return Cielab.fromSrgb(srgb());
    }

    /** The palette colour named {@code label} in captions. */
    public static PaletteColour ofLabel(String label) {
        for (PaletteColour colour : values()) {
            if (colour.label().equals(label)) {
                return colour;
            }
        }
        throw new IllegalArgumentException("not a palette colour: '" + label + "'");
    }

    /** The palette colour nearest to {@code colour} in CIELAB (CIE76). */
    public static PaletteColour nearest(Srgb colour) {
        Map<PaletteColour, Lab> candidates = new EnumMap<>(PaletteColour.class);
        for (PaletteColour candidate : values()) {
            candidates.put(candidate, candidate.lab());
        }
        return Cielab.nearest(colour.lab(), candidates);
    }
}
