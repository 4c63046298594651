package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * SDXL's size and crop conditioning (Podell et al. 2023, sections 2.2 and 2.3): the size the
 * training image originally had, the top-left corner of the crop taken from it, and the size
 * generated. The U-Net sees them as six numbers, its {@code add_time_ids}; diffusers' defaults are
 * original = target = the image size and no crop.
 */
public record MicroConditioning(int originalWidth, int originalHeight, int cropTop, int cropLeft, int targetWidth,
                                int targetHeight) {

    /** Numbers per sample in the U-Net's {@code add_time_ids}. */
    public static final int TIME_IDS = 6;

    /** The most any of the six may be: far beyond any training size, small enough to stay exact in float32. */
    public static final int MAX_VALUE = 1 << 20;

    public MicroConditioning {
        requireRange("original_size", originalWidth, 1);
        requireRange("original_size", originalHeight, 1);
        requireRange("crops_coords_top_left", cropTop, 0);
        requireRange("crops_coords_top_left", cropLeft, 0);
        requireRange("target_size", targetWidth, 1);
        requireRange("target_size", targetHeight, 1);
    }

    /** diffusers' defaults for a {@code width} x {@code height} image: original and target that size, crop (0, 0). */
    public static MicroConditioning defaults(int width, int height) {
        return new MicroConditioning(width, height, 0, 0, width, height);
    }

    /** The six numbers in the record's order: original width, height, crop top, left, target width, height. */
    public int[] values() {
        return new int[] {originalWidth, originalHeight, cropTop, cropLeft, targetWidth, targetHeight};
    }

    /** The inverse of {@link #values()}. */
    public static MicroConditioning fromValues(int[] v) {
        if (v.length != 6) {
            throw new IllegalArgumentException("micro-conditioning takes 6 numbers, got " + v.length);
        }
        return new MicroConditioning(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    /** Whether these are the defaults for a {@code width} x {@code height} image (infotext leaves defaults out). */
    public boolean isDefaultFor(int width, int height) {
        return equals(defaults(width, height));
    }

    /** The U-Net's {@code add_time_ids} row: original (h, w), crop (top, left), target (h, w), as the SDXL pipeline orders them. */
    public float[] timeIds() {
        return new float[] {originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth};
    }

    /** {@link #timeIds()} repeated for {@code rows} samples: [rows, {@value #TIME_IDS}] in {@code manager}. */
    public NDArray timeIds(int rows, NDManager manager) {
        float[] all = new float[rows * TIME_IDS];
        for (int row = 0; row < rows; row++) {
            System.arraycopy(timeIds(), 0, all, row * TIME_IDS, TIME_IDS);
        }
        return manager.create(all, new Shape(rows, TIME_IDS));
    }

    private static void requireRange(String field, int value, int min) {
        if (value < min || value > MAX_VALUE) {
            throw new InvalidRequestException(field, field + " values must be between " + min + " and " + MAX_VALUE + ", got " + value);
        }
    }
}
