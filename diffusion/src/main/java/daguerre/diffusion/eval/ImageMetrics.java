package daguerre.diffusion.eval;

import daguerre.diffusion.train.data.Cielab;
import daguerre.diffusion.train.data.Lab;
import daguerre.diffusion.train.data.Srgb;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The quality measures of the default model's evaluation: pure functions of images. */
public final class ImageMetrics {

    /** Bins per channel of the dominant-colour histogram (32 sRGB levels each). */
    static final int BINS = 8;

    private ImageMetrics() {}

    /**
     * Peak signal-to-noise ratio in dB of {@code test} against {@code reference}, over the three
     * 8-bit channels: 10 log10(255^2 / MSE); infinite for identical images.
     */
    public static double psnr(BufferedImage reference, BufferedImage test) {
        requireSameSize(reference, test);
        int[] a = rgb(reference);
        int[] b = rgb(test);
        double squares = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                int d = ((a[i] >> shift) & 0xff) - ((b[i] >> shift) & 0xff);
                squares += d * d;
            }
        }
        double mse = squares / (3.0 * a.length);
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }

    /** The mean sRGB colour of the outer {@code width}-pixel border of {@code image}. */
    public static Srgb borderMean(BufferedImage image, int width) {
        int w = image.getWidth();
        int h = image.getHeight();
        if (2 * width >= Math.min(w, h)) {
            throw new IllegalArgumentException("a border of " + width + " pixels leaves nothing inside a " + w + "x" + h + " image");
        }
        long r = 0;
        long g = 0;
        long b = 0;
        long count = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (x < width || y < width || x >= w - width || y >= h - width) {
                    int p = image.getRGB(x, y);
                    r += (p >> 16) & 0xff;
                    g += (p >> 8) & 0xff;
                    b += p & 0xff;
                    count++;
                }
            }
        }
        return new Srgb((double) r / count, (double) g / count, (double) b / count);
    }

    /**
     * The dominant colour of the centre of {@code image} that is not the background: among the
     * pixels of the central square (the middle half of each side) whose CIELAB distance from
     * {@code background} exceeds {@code minDistance}, the mean colour of the fullest cell of a
     * coarse {@value #BINS}^3 sRGB histogram. Empty when no centre pixel differs from the
     * background.
     */
    public static Optional<Srgb> dominantCentreColour(BufferedImage image, Srgb background, double minDistance) {
        Lab backgroundLab = background.lab();
        int w = image.getWidth();
        int h = image.getHeight();
        int cells = BINS * BINS * BINS;
        long[] count = new long[cells];
        long[][] sums = new long[cells][3];
        for (int y = h / 4; y < h - h / 4; y++) {
            for (int x = w / 4; x < w - w / 4; x++) {
                int p = image.getRGB(x, y);
                int r = (p >> 16) & 0xff;
                int g = (p >> 8) & 0xff;
                int b = p & 0xff;
                if (Cielab.deltaE(new Srgb(r, g, b).lab(), backgroundLab) <= minDistance) {
                    continue;
                }
                int cell = ((r * BINS / 256) * BINS + g * BINS / 256) * BINS + b * BINS / 256;
                count[cell]++;
                sums[cell][0] += r;
                sums[cell][1] += g;
                sums[cell][2] += b;
            }
        }
        int best = -1;
        for (int cell = 0; cell < cells; cell++) {
            if (count[cell] > 0 && (best < 0 || count[cell] > count[best])) {
                best = cell;
            }
        }
        if (best < 0) {
            return Optional.empty();
        }
        double n = count[best];
        return Optional.of(new Srgb(sums[best][0] / n, sums[best][1] / n, sums[best][2] / n));
    }

    /** The key of the reference colour nearest to {@code colour} in CIELAB. */
    public static <K> K nearest(Srgb colour, Map<K, Srgb> references) {
        return Cielab.nearest(colour.lab(), references.entrySet().stream().collect(java.util.stream.Collectors.toMap(
                Map.Entry::getKey, e -> e.getValue().lab(), (a, b) -> a, java.util.LinkedHashMap::new)));
    }

    /** Mean absolute difference per 8-bit channel value between two images of the same size (0..255). */
    public static double meanAbsoluteDifference(BufferedImage first, BufferedImage second) {
        requireSameSize(first, second);
        int[] a = rgb(first);
        int[] b = rgb(second);
        long total = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                total += Math.abs(((a[i] >> shift) & 0xff) - ((b[i] >> shift) & 0xff));
            }
        }
        return total / (3.0 * a.length);
    }

    /** Largest absolute difference of one 8-bit channel value between two images of the same size (0..255). */
    public static int maxAbsoluteDifference(BufferedImage first, BufferedImage second) {
        requireSameSize(first, second);
        int[] a = rgb(first);
        int[] b = rgb(second);
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                max = Math.max(max, Math.abs(((a[i] >> shift) & 0xff) - ((b[i] >> shift) & 0xff)));
            }
        }
        return max;
    }

    /** The mean of {@link #meanAbsoluteDifference} over every pair of {@code images} (at least two). */
    public static double meanPairwiseDifference(List<BufferedImage> images) {
        if (images.size() < 2) {
            throw new IllegalArgumentException("pairwise difference needs at least two images, got " + images.size());
        }
        double total = 0;
        int pairs = 0;
        for (int i = 0; i < images.size(); i++) {
            for (int j = i + 1; j < images.size(); j++) {
                total += meanAbsoluteDifference(images.get(i), images.get(j));
                pairs++;
            }
        }
        return total / pairs;
    }

    private static int[] rgb(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    private static void requireSameSize(BufferedImage a, BufferedImage b) {
        if (a.getWidth() != b.getWidth() || a.getHeight() != b.getHeight()) {
            throw new IllegalArgumentException("images differ in size: " + a.getWidth() + "x" + a.getHeight() + " and "
                    + b.getWidth() + "x" + b.getHeight());
        }
    }
}
