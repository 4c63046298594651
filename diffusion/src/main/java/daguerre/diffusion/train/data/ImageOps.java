package daguerre.diffusion.train.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Image reading, alpha compositing and resizing for training data: pure functions on
 * {@link BufferedImage}s, all in 8-bit sRGB.
 */
public final class ImageOps {

    private ImageOps() {}

    /**
     * Decodes an image file.
     *
     * @throws DatasetException naming the file when it is missing, unreadable or not an image
     *     format that {@code javax.imageio} can decode
     */
    public static BufferedImage read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException("image file not found: " + file);
        }
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new DatasetException("cannot decode image " + file + ": " + e.getMessage(), e);
        }
        if (image == null) {
            throw new DatasetException("not an image (no decoder recognises it): " + file);
        }
        return image;
    }

    /**
     * Reads only the header of an image file and returns its {width, height}: a cheap check that
     * the file exists and is an image.
     *
     * @throws DatasetException naming the file otherwise
     */
    public static int[] probeSize(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException("image file not found: " + file);
        }
        try (ImageInputStream input = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = input == null ? null : ImageIO.getImageReaders(input);
            if (readers == null || !readers.hasNext()) {
                throw new DatasetException("not an image (no decoder recognises it): " + file);
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(input, true, true);
                return new int[] {reader.getWidth(0), reader.getHeight(0)};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof DatasetException dataset) {
                throw dataset;
            }
            throw new DatasetException("cannot read image header of " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The pixels of an image as packed non-premultiplied {@code 0xAARRGGBB}, row by row, with
     * the colour values the file stores. Grey images (PNG grey and grey + alpha, grey JPEG) are
     * read from their raster: {@link BufferedImage#getRGB} would treat their grey as linear light
     * and brighten it (a mid grey 128 would become about 188).
     */
    public static int[] argbPixels(BufferedImage image) {
        int width = image.getWidth();
        int height = image.getHeight();
        ColorModel model = image.getColorModel();
        boolean grey = !(model instanceof IndexColorModel)
                && model.getColorSpace().getType() == ColorSpace.TYPE_GRAY
                && !model.isAlphaPremultiplied();
        if (!grey) {
            return image.getRGB(0, 0, width, height, null, 0, width);
        }
        Raster raster = image.getRaster();
        int greyMax = (1 << model.getComponentSize(0)) - 1;
        int alphaMax = model.hasAlpha() ? (1 << model.getComponentSize(1)) - 1 : 0;
        int[] argb = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int value = to8Bit(raster.getSample(x, y, 0), greyMax);
                int alpha = model.hasAlpha() ? to8Bit(raster.getSample(x, y, 1), alphaMax) : 0xff;
                argb[y * width + x] = (alpha << 24) | (value << 16) | (value << 8) | value;
            }
        }
        return argb;
    }

    private static int to8Bit(int sample, int max) {
        return max == 0xff ? sample : (int) ((sample * 255L + max / 2) / max);
    }

    /**
     * Composites an image with (straight, non-premultiplied) alpha over a solid background, in
     * sRGB-encoded values as browsers and image viewers show a transparent PNG:
     * {@code out = alpha * foreground + (1 - alpha) * background} per channel, rounded to 8 bits.
     * Opaque images come back unchanged (as {@code TYPE_INT_RGB}).
     *
     * @param background packed {@code 0xRRGGBB}
     * @return a new {@code TYPE_INT_RGB} image of the same size
     */
    public static BufferedImage compositeOver(BufferedImage image, int background) {
        int width = image.getWidth();
        int height = image.getHeight();
        int[] argb = argbPixels(image);
        int backR = (background >> 16) & 0xff;
        int backG = (background >> 8) & 0xff;
        int backB = background & 0xff;
        for (int i = 0; i < argb.length; i++) {
            int pixel = argb[i];
            int alpha = pixel >>> 24;
            int r = blend((pixel >> 16) & 0xff, backR, alpha);
            int g = blend((pixel >> 8) & 0xff, backG, alpha);
            int b = blend(pixel & 0xff, backB, alpha);
            argb[i] = (r << 16) | (g << 8) | b;
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, width, height, argb, 0, width);
        return out;
    }

    // alpha / 255 * front + (1 - alpha / 255) * back, rounded half up, in integers.
    private static int blend(int front, int back, int alpha) {
        return (front * alpha + back * (255 - alpha) + 127) / 255;
    }

    /**
     * Crops the centred square of side min(width, height) and resamples it to
     * {@code size} x {@code size}: the usual "resize the short side, centre-crop" of training
     * pipelines. Alpha is ignored (composite first). Downsampling averages with a triangle
     * (tent) filter widened by the scale factor, so it does not alias; upsampling is bilinear.
     *
     * @return a new {@code TYPE_INT_RGB} image; a copy when the image is already that square
     */
    public static BufferedImage resizeAndCenterCrop(BufferedImage image, int size) {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive, got " + size);
        }
        int side = Math.min(image.getWidth(), image.getHeight());
        int left = (image.getWidth() - side) / 2;
        int top = (image.getHeight() - side) / 2;
        int[] all = argbPixels(image);
        int[] rgb = new int[side * side];
        for (int y = 0; y < side; y++) {
            System.arraycopy(all, (top + y) * image.getWidth() + left, rgb, y * side, side);
        }
        if (side == size) {
            BufferedImage copy = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            copy.setRGB(0, 0, size, size, rgb, 0, size);
            return copy;
        }
        // planes[c][y * side + x], c = R, G, B
        double[][] planes = new double[3][side * side];
        for (int i = 0; i < rgb.length; i++) {
            planes[0][i] = (rgb[i] >> 16) & 0xff;
            planes[1][i] = (rgb[i] >> 8) & 0xff;
            planes[2][i] = rgb[i] & 0xff;
        }
        double[][] weights = new double[size][];
        int[] firstIndex = new int[size];
        resampleWeights(side, size, weights, firstIndex);
        int[] out = new int[size * size];
        for (int c = 0; c < 3; c++) {
            // [side, side] -> [side, size] (rows) -> [size, size] (columns)
            double[] rows = new double[side * size];
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < size; x++) {
                    double sum = 0;
                    for (int k = 0; k < weights[x].length; k++) {
                        sum += weights[x][k] * planes[c][y * side + firstIndex[x] + k];
                    }
                    rows[y * size + x] = sum;
                }
            }
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    double sum = 0;
                    for (int k = 0; k < weights[y].length; k++) {
                        sum += weights[y][k] * rows[(firstIndex[y] + k) * size + x];
                    }
                    int value = (int) Math.round(Math.min(255.0, Math.max(0.0, sum)));
                    out[y * size + x] |= value << (16 - 8 * c);
                }
            }
        }
        BufferedImage result = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        result.setRGB(0, 0, size, size, out, 0, size);
        return result;
    }

    /**
     * Normalised triangle-filter weights mapping {@code in} samples to {@code out}: output i is
     * centred at source coordinate (i + 0.5) * in / out - 0.5, with radius max(1, in / out);
     * taps beyond the edge are dropped and the rest renormalised.
     */
    private static void resampleWeights(int in, int out, double[][] weights, int[] firstIndex) {
        double scale = (double) in / out;
        double radius = Math.max(1.0, scale);
        for (int i = 0; i < out; i++) {
            double centre = (i + 0.5) * scale - 0.5;
            int first = Math.max(0, (int) Math.floor(centre - radius) + 1);
            int last = Math.min(in - 1, (int) Math.ceil(centre + radius) - 1);
            if (last < first) {
                first = last = Math.min(in - 1, Math.max(0, (int) Math.round(centre)));
            }
            double[] w = new double[last - first + 1];
            double total = 0;
            for (int k = first; k <= last; k++) {
                double value = Math.max(0.0, 1.0 - Math.abs(k - centre) / radius);
                w[k - first] = value;
                total += value;
            }
            if (total == 0) {
                w = new double[] {1.0};
                first = Math.min(in - 1, Math.max(0, (int) Math.round(centre)));
                total = 1.0;
            }
            for (int k = 0; k < w.length; k++) {
                w[k] /= total;
            }
            weights[i] = w;
            firstIndex[i] = first;
        }
    }
}
