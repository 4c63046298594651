package daguerre.diffusion.train.data;

/** A colour in CIELAB (D65 white): lightness {@code l} in 0..100 and the opponent axes a, b. */
public record Lab(double l, double a, double b) {

    /** The CIE76 colour difference (Euclidean distance in CIELAB) to {@code other}. */
    public double distance(Lab other) {
        return Cielab.deltaE(this, other);
    }
}
