package daguerre.diffusion.train.data;

import java.util.Map;
import java.util.Objects;

/**
 * sRGB to CIELAB and nearest-colour search: pure functions.
 *
 * <p>sRGB is decoded with the IEC 61966-2-1 transfer function, converted to CIE XYZ with the
 * sRGB primaries and D65 white, then to L*a*b* (CIE 15, relative to D65).
 */
public final class Cielab {

    // sRGB primaries (linear RGB -> XYZ), IEC 61966-2-1.
    private static final double[][] RGB_TO_XYZ = {
        {0.4124564, 0.3575761, 0.1804375},
        {0.2126729, 0.7151522, 0.0721750},
        {0.0193339, 0.1191920, 0.9503041},
    };
    // D65 reference white: the XYZ of linear RGB (1, 1, 1).
    private static final double WHITE_X = 0.95047;
    private static final double WHITE_Y = 1.00000;
    private static final double WHITE_Z = 1.08883;
    private static final double DELTA = 6.0 / 29.0;

    private Cielab() {}

    /** The CIELAB coordinates of an sRGB colour. */
    public static Lab fromSrgb(Srgb colour) {
        double r = toLinear(colour.r() / 255.0);
        double g = toLinear(colour.g() / 255.0);
        double b = toLinear(colour.b() / 255.0);
        double x = RGB_TO_XYZ[0][0] * r + RGB_TO_XYZ[0][1] * g + RGB_TO_XYZ[0][2] * b;
        double y = RGB_TO_XYZ[1][0] * r + RGB_TO_XYZ[1][1] * g + RGB_TO_XYZ[1][2] * b;
        double z = RGB_TO_XYZ[2][0] * r + RGB_TO_XYZ[2][1] * g + RGB_TO_XYZ[2][2] * b;
        double fx = f(x / WHITE_X);
        double fy = f(y / WHITE_Y);
        double fz = f(z / WHITE_Z);
        return new Lab(116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz));
    }

    /** The CIE76 colour difference: Euclidean distance between two CIELAB colours. */
    public static double deltaE(Lab first, Lab second) {
        double dl = first.l() - second.l();
        double da = first.a() - second.a();
        double db = first.b() - second.b();
        return Math.sqrt(dl * dl + da * da + db * db);
    }

    /**
     * The key of the candidate nearest to {@code target} in CIELAB; ties go to the first in the
     * map's iteration order.
     *
     * @throws IllegalArgumentException when there are no candidates
     */
    public static <K> K nearest(Lab target, Map<K, Lab> candidates) {
        Objects.requireNonNull(target, "target");
        K best = null;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (Map.Entry<K, Lab> candidate : candidates.entrySet()) {
            double distance = deltaE(target, candidate.getValue());
            if (distance < bestDistance) {
                best = candidate.getKey();
                bestDistance = distance;
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("no candidate colours to compare with");
        }
        return best;
    }

    /** sRGB electro-optical transfer function: encoded value in 0..1 to linear light. */
    static double toLinear(double encoded) {
        return encoded <= 0.04045 ? encoded / 12.92 : Math.pow((encoded + 0.055) / 1.055, 2.4);
    }

    // CIE 15: f(t) = t^(1/3) above (6/29)^3, else the linear segment t / (3 delta^2) + 4/29.
    private static double f(double t) {
        return t > DELTA * DELTA * DELTA ? Math.cbrt(t) : t / (3.0 * DELTA * DELTA) + 4.0 / 29.0;
    }
}
