package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;

/**
 * The pixel side of inpainting, as A1111's {@code StableDiffusionProcessingImg2Img} and
 * {@code modules/masking.py} do it: the mask read as 8-bit grey (or from its alpha), inverted, blurred
 * (OpenCV's Gaussian, kernel 2 int(2.5 s + 0.5) + 1, reflected borders), the "only masked" crop
 * region, the "fill" content and the paste-back of the original outside the mask.
 */
final class InpaintMasks {

    private InpaintMasks() {}

    /**
     * What a request's mask and init image become before sampling.
     *
     * @param content the image to encode at the processing size (after "fill")
     * @param binary the blurred mask at the processing size, binarised as diffusers' mask processor (1 where >= 128, i.e. /255 >= 0.5)
     * @param original the image the result is pasted onto (the init image at the output size)
     * @param pasteTo where on {@code original} the generated image goes (all of it, or the "only masked" box)
     * @param overlayAlpha per pixel of {@code original}, how much of the generated image shows (0: the original's pixel)
     * @param fullRes whether "only masked" was applied (a blank mask falls back to plain image-to-image)
     */
    record Prepared(BufferedImage content, float[] binary, BufferedImage original, Region pasteTo, int[] overlayAlpha,
                    boolean fullRes) {}

    /**
     * A1111's preparation: grey mask, inverted, blurred; "only masked": the padded box of the blurred
     * mask grown to the request's aspect ratio, image and mask cropped to it and resized to the
     * request's size, the overlay the blurred mask itself; else image and mask resized to the request's
     * size and the overlay twice the blurred mask (clipped). Null when "only masked" finds a blank mask
     * (A1111 then runs plain image-to-image).
     */
    static Prepared prepare(BufferedImage init, InpaintOptions options, int width, int height) {
        int w0 = init.getWidth();
        int h0 = init.getHeight();
        int[] mask = grey(options.mask());
        if (options.invert()) {
            mask = invert(mask);
        }
        mask = blur(mask, w0, h0, options.maskBlur());
        BufferedImage image;
        int[] processing;
        BufferedImage original;
        Region pasteTo;
        int[] alpha;
        if (options.fullRes()) {
            Region box = cropRegion(mask, w0, h0, options.fullResPadding());
            if (box == null) {
                return null;
            }
            pasteTo = expandToRatio(box, width, height, w0, h0);
            processing = resize(crop(mask, w0, pasteTo), pasteTo.width(), pasteTo.height(), width, height);
            image = Resampling.resize(init.getSubimage(pasteTo.x1(), pasteTo.y1(), pasteTo.width(), pasteTo.height()),
                    width, height, Resampling.Filter.LANCZOS);
            original = init;
            alpha = mask;
        } else {
            image = w0 == width && h0 == height ? init : Resampling.resize(init, width, height, Resampling.Filter.LANCZOS);
            processing = resize(mask, w0, h0, width, height);
            original = image;
            pasteTo = new Region(0, 0, width, height);
            alpha = new int[processing.length];
            for (int i = 0; i < alpha.length; i++) {
                alpha[i] = Math.min(255, 2 * processing[i]);
            }
        }
        BufferedImage content = options.fill() == InpaintOptions.Fill.FILL ? fill(image, processing) : image;
        float[] binary = new float[processing.length];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = processing[i] >= 128 ? 1 : 0;
        }
        return new Prepared(content, binary, original, pasteTo, alpha, options.fullRes());
    }

    /** The finished image at the processing size put back as A1111 does: resized into the paste box, the original over it outside the mask. */
    static BufferedImage overlay(Prepared prepared, BufferedImage generated) {
        Region r = prepared.pasteTo();
        BufferedImage sized = generated.getWidth() == r.width() && generated.getHeight() == r.height() ? generated
                : Resampling.resize(generated, r.width(), r.height(), Resampling.Filter.LANCZOS);
        return pasteBack(prepared.original(), sized, r, prepared.overlayAlpha());
    }

    /** A region of an image: columns x1 until x2, rows y1 until y2 (exclusive ends). */
    record Region(int x1, int y1, int x2, int y2) {
        int width() {
            return x2 - x1;
        }

        int height() {
            return y2 - y1;
        }
    }

    /**
     * The mask as 8-bit grey, one int per pixel: an RGBA mask whose alpha is not all 255 gives its alpha
     * thresholded at 128 (A1111's {@code create_binary_mask}), any other Pillow's 'L' conversion
     * (L = (19595 R + 38470 G + 7471 B + 2^15) >> 16).
     */
    static int[] grey(BufferedImage mask) {
        int width = mask.getWidth();
        int height = mask.getHeight();
        int[] argb = mask.getRGB(0, 0, width, height, null, 0, width);
        boolean alpha = mask.getColorModel().hasAlpha();
        if (alpha) {
            alpha = false;
            for (int p : argb) {
                if ((p >>> 24) != 255) {
                    alpha = true;
                    break;
                }
            }
        }
        int[] out = new int[argb.length];
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            out[i] = alpha ? ((p >>> 24) > 128 ? 255 : 0)
                    : (19595 * ((p >> 16) & 0xff) + 38470 * ((p >> 8) & 0xff) + 7471 * (p & 0xff) + 0x8000) >> 16;
        }
        return out;
    }

    static int[] invert(int[] mask) {
        int[] out = new int[mask.length];
        for (int i = 0; i < mask.length; i++) {
            out[i] = 255 - mask[i];
        }
        return out;
    }

    /** A1111's mask blur: a horizontal then a vertical OpenCV Gaussian of sigma {@code blur}, each rounded to 8 bits. */
    static int[] blur(int[] mask, int width, int height, int blur) {
        if (blur <= 0) {
            return mask.clone();
        }
        int size = 2 * (int) (2.5 * blur + 0.5) + 1;
        double[] kernel = new double[size];
        double sum = 0;
        for (int i = 0; i < size; i++) {
            double x = i - (size - 1) / 2.0;
            kernel[i] = Math.exp(-x * x / (2.0 * blur * blur));
            sum += kernel[i];
        }
        for (int i = 0; i < size; i++) {
            kernel[i] /= sum;
        }
        int[] horizontal = new int[mask.length];
        int r = size / 2;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double v = 0;
                for (int k = 0; k < size; k++) {
                    v += kernel[k] * mask[y * width + reflect101(x + k - r, width)];
                }
                horizontal[y * width + x] = (int) Math.min(255, Math.max(0, Math.round(v)));
            }
        }
        int[] out = new int[mask.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double v = 0;
                for (int k = 0; k < size; k++) {
                    v += kernel[k] * horizontal[reflect101(y + k - r, height) * width + x];
                }
                out[y * width + x] = (int) Math.min(255, Math.max(0, Math.round(v)));
            }
        }
        return out;
    }

    /** OpenCV's BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ... */
    private static int reflect101(int i, int n) {
        if (n == 1) {
            return 0;
        }
        while (i < 0 || i >= n) {
            i = i < 0 ? -i : 2 * (n - 1) - i;
        }
        return i;
    }

    /**
     * The bounding box of the mask's non-zero pixels grown by {@code padding} and clamped to the image
     * (A1111's {@code get_crop_region}); null for a blank mask.
     */
    static Region cropRegion(int[] mask, int width, int height, int padding) {
        int x1 = width;
        int y1 = height;
        int x2 = -1;
        int y2 = -1;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (mask[y * width + x] != 0) {
                    x1 = Math.min(x1, x);
                    y1 = Math.min(y1, y);
                    x2 = Math.max(x2, x);
                    y2 = Math.max(y2, y);
                }
            }
        }
        if (x2 < 0) {
            return null;
        }
        return new Region(Math.max(x1 - padding, 0), Math.max(y1 - padding, 0),
                Math.min(x2 + 1 + padding, width), Math.min(y2 + 1 + padding, height));
    }

    /** The region grown to the processing size's aspect ratio, kept inside the image (A1111's {@code expand_crop_region}). */
    static Region expandToRatio(Region region, int processingWidth, int processingHeight, int imageWidth, int imageHeight) {
        int x1 = region.x1();
        int y1 = region.y1();
        int x2 = region.x2();
        int y2 = region.y2();
        double cropRatio = (double) (x2 - x1) / (y2 - y1);
        double processingRatio = (double) processingWidth / processingHeight;
        if (cropRatio > processingRatio) {
            double desiredHeight = (x2 - x1) / processingRatio;
            int diff = (int) (desiredHeight - (y2 - y1));
            y1 -= Math.floorDiv(diff, 2);
            y2 += diff - Math.floorDiv(diff, 2);
            if (y2 >= imageHeight) {
                int over = y2 - imageHeight;
                y2 -= over;
                y1 -= over;
            }
            if (y1 < 0) {
                y2 -= y1;
                y1 = 0;
            }
            if (y2 >= imageHeight) {
                y2 = imageHeight;
            }
        } else {
            double desiredWidth = (y2 - y1) * processingRatio;
            int diff = (int) (desiredWidth - (x2 - x1));
            x1 -= Math.floorDiv(diff, 2);
            x2 += diff - Math.floorDiv(diff, 2);
            if (x2 >= imageWidth) {
                int over = x2 - imageWidth;
                x2 -= over;
                x1 -= over;
            }
            if (x1 < 0) {
                x2 -= x1;
                x1 = 0;
            }
            if (x2 >= imageWidth) {
                x2 = imageWidth;
            }
        }
        return new Region(x1, y1, x2, y2);
    }

    static int[] crop(int[] mask, int width, Region r) {
        int[] out = new int[r.width() * r.height()];
        for (int y = 0; y < r.height(); y++) {
            System.arraycopy(mask, (r.y1() + y) * width + r.x1(), out, y * r.width(), r.width());
        }
        return out;
    }

    /** A grey mask resized (Pillow Lanczos, as A1111's {@code resize_image}). */
    static int[] resize(int[] mask, int width, int height, int outWidth, int outHeight) {
        if (width == outWidth && height == outHeight) {
            return mask.clone();
        }
        float[] values = new float[mask.length];
        for (int i = 0; i < mask.length; i++) {
            values[i] = mask[i];
        }
        float[] resized = Resampling.resize(values, 1, height, width, outHeight, outWidth, Resampling.Filter.LANCZOS);
        int[] out = new int[resized.length];
        for (int i = 0; i < resized.length; i++) {
            out[i] = (int) Math.min(255, Math.max(0, Math.round(resized[i])));
        }
        return out;
    }

    /**
     * A1111's {@code masking.fill}: the unmasked pixels (alpha 255 - mask) blurred at radii 256, 64, 16,
     * 4, 2, 0 (Pillow's GaussianBlur: three extended box blurs) and composited over each other, so the
     * masked area takes the colours around it.
     */
    static BufferedImage fill(BufferedImage image, int[] mask) {
        int width = image.getWidth();
        int height = image.getHeight();
        int n = width * height;
        int[] rgb = image.getRGB(0, 0, width, height, null, 0, width);
        float[][] premultiplied = new float[4][n]; // r a, g a, b a, a in 0..1
        for (int i = 0; i < n; i++) {
            float a = (255 - mask[i]) / 255f;
            premultiplied[0][i] = ((rgb[i] >> 16) & 0xff) / 255f * a;
            premultiplied[1][i] = ((rgb[i] >> 8) & 0xff) / 255f * a;
            premultiplied[2][i] = (rgb[i] & 0xff) / 255f * a;
            premultiplied[3][i] = a;
        }
        float[][] out = new float[4][n]; // premultiplied, starts transparent
        int[][] passes = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};
        for (int[] pass : passes) {
            float[][] blurred = new float[4][];
            for (int c = 0; c < 4; c++) {
                blurred[c] = pass[0] == 0 ? premultiplied[c] : gaussianBlur(premultiplied[c], width, height, pass[0]);
            }
            for (int repeat = 0; repeat < pass[1]; repeat++) {
                for (int i = 0; i < n; i++) { // premultiplied "over": out = src + out (1 - src alpha)
                    float keep = 1 - blurred[3][i];
                    for (int c = 0; c < 4; c++) {
                        out[c][i] = blurred[c][i] + out[c][i] * keep;
                    }
                }
            }
        }
        BufferedImage filled = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < n; i++) {
            float a = out[3][i];
            int value = 0;
            for (int c = 0; c < 3; c++) {
                int v = a <= 0 ? 0 : (int) Math.min(255, Math.max(0, Math.round(out[c][i] / a * 255)));
                value = (value << 8) | v;
            }
            filled.setRGB(i % width, i / width, value);
        }
        return filled;
    }

    /** Pillow's GaussianBlur(radius): three box blurs of the fractional radius of Gwosdek et al. 2011, edges extended. */
    private static float[] gaussianBlur(float[] plane, int width, int height, double radius) {
        double sigma2 = radius * radius / 3;
        double length = Math.sqrt(12 * sigma2 + 1);
        double l = Math.floor((length - 1) / 2);
        double a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2) / (6 * (sigma2 - (l + 1) * (l + 1)));
        double box = l + a;
        float[] out = plane;
        for (int pass = 0; pass < 3; pass++) {
            out = boxRows(out, width, height, box);
        }
        out = transpose(out, width, height);
        for (int pass = 0; pass < 3; pass++) {
            out = boxRows(out, height, width, box);
        }
        return transpose(out, height, width);
    }

    /** One box blur along rows of fractional radius r = l + a: (sum of 2l + 1 taps + a (the next two)) / (2r + 1). */
    private static float[] boxRows(float[] plane, int width, int height, double radius) {
        int l = (int) radius;
        double a = radius - l;
        double norm = 1 / (2 * radius + 1);
        float[] out = new float[plane.length];
        int pad = l + 1;
        double[] prefix = new double[width + 2 * pad + 1]; // prefix sums of the row extended by its edge values
        for (int y = 0; y < height; y++) {
            int base = y * width;
            for (int i = 0; i < width + 2 * pad; i++) {
                prefix[i + 1] = prefix[i] + plane[base + Math.min(Math.max(i - pad, 0), width - 1)];
            }
            for (int x = 0; x < width; x++) {
                int e = x + pad; // position of x in the extended row
                double sum = prefix[e + l + 1] - prefix[e - l];
                sum += a * (plane[base + Math.max(x - l - 1, 0)] + plane[base + Math.min(x + l + 1, width - 1)]);
                out[base + x] = (float) (sum * norm);
            }
        }
        return out;
    }

    private static float[] transpose(float[] plane, int width, int height) {
        float[] out = new float[plane.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                out[x * height + y] = plane[y * width + x];
            }
        }
        return out;
    }

    /**
     * A1111's overlay: {@code generated} (already at the region's size) placed at {@code region} over a
     * copy of {@code original}, then the original composited over it with alpha 255 - {@code alpha}
     * (one value per pixel of the original), so pixels where alpha is 0 stay the original's.
     */
    static BufferedImage pasteBack(BufferedImage original, BufferedImage generated, Region region, int[] alpha) {
        int width = original.getWidth();
        int height = original.getHeight();
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int o = original.getRGB(x, y);
                boolean inside = x >= region.x1() && x < region.x2() && y >= region.y1() && y < region.y2();
                int g = inside ? generated.getRGB(x - region.x1(), y - region.y1()) : o;
                int a = alpha[y * width + x];
                int value = 0;
                for (int shift = 16; shift >= 0; shift -= 8) {
                    int oc = (o >> shift) & 0xff;
                    int gc = (g >> shift) & 0xff;
                    value = (value << 8) | (int) Math.round((oc * (255 - a) + gc * a) / 255.0);
                }
                out.setRGB(x, y, value);
            }
        }
        return out;
    }
}
