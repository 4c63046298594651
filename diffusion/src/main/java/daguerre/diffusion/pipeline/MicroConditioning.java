package daguerre.diffusion.pipeline;

/**
 * SDXL's size and crop conditioning (Podell et al. 2023, sections 2.2 and 2.3): the size the
 * training image originally had, the top-left corner of the crop taken from it, and the size
 * generated. The U-Net sees them as six numbers, its {@code add_time_ids}; diffusers' defaults are
 * original = target = the image size and no crop.
 */
public record MicroConditioning(int originalWidth, int originalHeight, int cropTop, int cropLeft, int targetWidth,
                                int targetHeight) {

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

    /** Whether these are the defaults for a {@code width} x {@code height} image (infotext leaves defaults out). */
    public boolean isDefaultFor(int width, int height) {
        return equals(defaults(width, height));
    }

    /** The U-Net's {@code add_time_ids} row: original (h, w), crop (top, left), target (h, w), as the SDXL pipeline orders them. */
    public float[] timeIds() {
        return new float[] {originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth};
    }

    private static void requireRange(String field, int value, int min) {
        if (value < min || value > MAX_VALUE) {
            throw new InvalidRequestException(field, field + " values must be between " + min + " and " + MAX_VALUE + ", got " + value);
        }
    }
}
