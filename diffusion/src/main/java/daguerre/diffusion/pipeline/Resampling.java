package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;

/**
 * Separable resampling of float planes and 8-bit RGB images, with the weights of PyTorch's
 * {@code F.interpolate} (align_corners False, output size given: scale = in / out) and of Pillow's
 * {@code Image.resize}, so that the hires-fix upscalers behave as A1111's.
 */
public final class Resampling {

    private Resampling() {}

    /** A 1-D resampling rule. */
    public enum Filter {
        /** torch 'nearest': source floor(i * scale). */
        NEAREST,
        /** torch 'nearest-exact' and Pillow NEAREST: source floor((i + 0.5) * scale). */
        NEAREST_EXACT,
        /** torch 'bilinear' (border samples clamped). */
        BILINEAR,
        /** torch 'bicubic', A = -0.75 (border indices clamped). */
        BICUBIC,
        /** torch 'bilinear' with antialias: a triangle filter widened by the scale when shrinking, weights normalised. */
        BILINEAR_ANTIALIAS,
        /** torch 'bicubic' with antialias: Keys' cubic with a = -0.5, widened when shrinking, weights normalised. */
        BICUBIC_ANTIALIAS,
        /** Pillow LANCZOS: sinc(x) sinc(x / 3) on |x| &lt; 3, widened when shrinking, weights normalised. */
        LANCZOS
    }

    /** For each output index, the source indices and their weights. */
    record Taps(int[][] index, double[][] weight) {}

    static Taps taps(int in, int out, Filter filter) {
        double scale = (double) in / out;
        int[][] index = new int[out][];
        double[][] weight = new double[out][];
        for (int i = 0; i < out; i++) {
            switch (filter) {
                case NEAREST -> one(index, weight, i, Math.min((int) Math.floor(i * scale), in - 1));
                case NEAREST_EXACT -> one(index, weight, i, Math.min((int) Math.floor((i + 0.5) * scale), in - 1));
                case BILINEAR -> {
                    double x = Math.max((i + 0.5) * scale - 0.5, 0);
                    int i0 = (int) Math.floor(x);
                    int i1 = Math.min(i0 + 1, in - 1);
                    double l = x - i0;
                    index[i] = new int[] {Math.min(i0, in - 1), i1};
                    weight[i] = new double[] {1 - l, l};
                }
                case BICUBIC -> {
                    double x = (i + 0.5) * scale - 0.5;
                    int i0 = (int) Math.floor(x);
                    double t = x - i0;
                    double a = -0.75;
                    index[i] = new int[4];
                    for (int k = 0; k < 4; k++) {
                        index[i][k] = Math.min(Math.max(i0 - 1 + k, 0), in - 1);
                    }
                    weight[i] = new double[] {cubicFar(t + 1, a), cubicNear(t, a), cubicNear(1 - t, a), cubicFar(2 - t, a)};
                }
                case BILINEAR_ANTIALIAS -> normalised(index, weight, i, in, scale, 1, x -> Math.max(0, 1 - Math.abs(x)));
                case BICUBIC_ANTIALIAS -> normalised(index, weight, i, in, scale, 2, x -> keys(x, -0.5));
                case LANCZOS -> normalised(index, weight, i, in, scale, 3, x -> Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0);
            }
        }
        return new Taps(index, weight);
    }

    private static void one(int[][] index, double[][] weight, int i, int source) {
        index[i] = new int[] {source};
        weight[i] = new double[] {1};
    }

    /** Pillow's and torch's antialiased form: support scaled up when shrinking, taps inside the input, weights summing to 1. */
    private static void normalised(int[][] index, double[][] weight, int i, int in, double scale, double support,
                                   java.util.function.DoubleUnaryOperator kernel) {
        double filterScale = Math.max(scale, 1);
        double s = support * filterScale;
        double center = (i + 0.5) * scale;
        int min = Math.max((int) (center - s + 0.5), 0);
        int max = Math.min((int) (center + s + 0.5), in);
        int n = Math.max(max - min, 1);
        index[i] = new int[n];
        weight[i] = new double[n];
        double total = 0;
        for (int k = 0; k < n; k++) {
            index[i][k] = Math.min(min + k, in - 1);
            double w = kernel.applyAsDouble((min + k - center + 0.5) / filterScale);
            weight[i][k] = w;
            total += w;
        }
        for (int k = 0; k < n; k++) {
            weight[i][k] = total == 0 ? (k == 0 ? 1 : 0) : weight[i][k] / total;
        }
    }

    private static double cubicNear(double x, double a) {
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    }

    private static double cubicFar(double x, double a) {
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }

    private static double keys(double x, double a) {
        double ax = Math.abs(x);
        return ax < 1 ? cubicNear(ax, a) : ax < 2 ? cubicFar(ax, a) : 0;
    }

    private static double sinc(double x) {
        if (x == 0) {
            return 1;
        }
        double px = Math.PI * x;
        return Math.sin(px) / px;
    }

    /**
     * Resizes {@code planes} planes of {@code height} x {@code width} floats (row-major, plane after
     * plane, as an NCHW tensor's data) to {@code outHeight} x {@code outWidth}: rows first, then columns.
     */
    public static float[] resize(float[] values, int planes, int height, int width, int outHeight, int outWidth, Filter filter) {
        Taps horizontal = taps(width, outWidth, filter);
        Taps vertical = taps(height, outHeight, filter);
        float[] out = new float[planes * outHeight * outWidth];
        double[] row = new double[outWidth * height];
        for (int p = 0; p < planes; p++) {
            int base = p * height * width;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    int[] idx = horizontal.index()[x];
                    double[] w = horizontal.weight()[x];
                    for (int k = 0; k < idx.length; k++) {
                        sum += w[k] * values[base + y * width + idx[k]];
                    }
                    row[y * outWidth + x] = sum;
                }
            }
            int outBase = p * outHeight * outWidth;
            for (int y = 0; y < outHeight; y++) {
                int[] idx = vertical.index()[y];
                double[] w = vertical.weight()[y];
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    for (int k = 0; k < idx.length; k++) {
                        sum += w[k] * row[idx[k] * outWidth + x];
                    }
                    out[outBase + y * outWidth + x] = (float) sum;
                }
            }
        }
        return out;
    }

    /**
     * An RGB image resized as Pillow does: the horizontal pass first into an 8-bit image, then the
     * vertical one, each value rounded and clipped to 0..255 (Pillow rounds in fixed point, so a value
     * may differ from it by one level).
     */
    public static BufferedImage resize(BufferedImage image, int outWidth, int outHeight, Filter filter) {
        int width = image.getWidth();
        int height = image.getHeight();
        int[] rgb = image.getRGB(0, 0, width, height, null, 0, width);
        int[] mid = new int[outWidth * height];
        Taps horizontal = taps(width, outWidth, filter);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < outWidth; x++) {
                mid[y * outWidth + x] = combine(rgb, y * width, 1, horizontal.index()[x], horizontal.weight()[x]);
            }
        }
        Taps vertical = taps(height, outHeight, filter);
        BufferedImage out = new BufferedImage(outWidth, outHeight, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < outWidth; x++) {
                out.setRGB(x, y, combine(mid, x, outWidth, vertical.index()[y], vertical.weight()[y]));
            }
        }
        return out;
    }

    /** One output pixel: the weighted sum of pixels {@code base + stride * index[k]}, per channel, rounded and clipped. */
    private static int combine(int[] pixels, int base, int stride, int[] index, double[] weight) {
        double r = 0;
        double g = 0;
        double b = 0;
        for (int k = 0; k < index.length; k++) {
            int p = pixels[base + stride * index[k]];
            r += weight[k] * ((p >> 16) & 0xff);
            g += weight[k] * ((p >> 8) & 0xff);
            b += weight[k] * (p & 0xff);
        }
        return (clip(r) << 16) | (clip(g) << 8) | clip(b);
    }

    private static int clip(double v) {
        return (int) Math.min(255, Math.max(0, Math.round(v)));
    }
}
