package daguerre.diffusion.train.data;

/**
 * A colour in sRGB with components on the 0..255 scale; fractional values come from means over
 * many pixels.
 */
public record Srgb(double r, double g, double b) {

    public Srgb {
        check("r", r);
        check("g", g);
        check("b", b);
    }

    /** The colour of a packed {@code 0xRRGGBB} pixel (any alpha byte is ignored). */
    public static Srgb ofPixel(int rgb) {
        return new Srgb((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
    }

    /** This colour in CIELAB (D65). */
    public Lab lab() {
        return Cielab.fromSrgb(this);
    }

    private static void check(String name, double value) {
        if (!(value >= 0 && value <= 255)) {
            throw new IllegalArgumentException("sRGB component " + name + " must be in 0..255, got " + value);
        }
    }
}
