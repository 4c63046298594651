package daguerre.diffusion.pipeline;

import daguerre.diffusion.sampling.Sampler;

/**
 * A1111's hires fix (their API names in brackets): text-to-image at the request's size, the result
 * upscaled (in latent or pixel space, see {@link Upscalers}), then an image-to-image pass at the
 * larger size.
 *
 * @param scale upscale factor ({@code hr_scale}, 1..{@value #MAX_SCALE}); used when no resize is given
 * @param resizeX target width ({@code hr_resize_x}); 0 = from {@code resizeY} and the aspect ratio, or from the scale
 * @param resizeY target height ({@code hr_resize_y}); 0 = from {@code resizeX} and the aspect ratio, or from the scale
 * @param upscaler an {@link Upscalers} name ({@code hr_upscaler}), e.g. "Latent" or "Lanczos"
 * @param secondPassSteps steps of the second pass ({@code hr_second_pass_steps}); 0 = the request's steps
 * @param denoisingStrength the second pass's strength in (0, 1] ({@code denoising_strength})
 * @param sampler the second pass's sampler ({@code hr_sampler_name}); null = the request's
 * @param prompt the second pass's prompt ({@code hr_prompt}); null or "" = the request's
 * @param negativePrompt the second pass's negative prompt ({@code hr_negative_prompt}); null or "" = the request's
 */
public record HiresFix(double scale, int resizeX, int resizeY, String upscaler, int secondPassSteps, double denoisingStrength,
                       Sampler sampler, String prompt, String negativePrompt) {

    public static final double MAX_SCALE = 8;
    public static final int MAX_RESIZE = 8192;
    /** A1111's default hires denoising strength. */
    public static final double DEFAULT_DENOISING_STRENGTH = 0.7;

    /** The size of the second pass and how much of the upscaled first pass to crop to reach it. */
    public record Target(int width, int height, int upscaledWidth, int upscaledHeight) {}

    public HiresFix {
        prompt = prompt == null ? "" : prompt;
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        require(Double.isFinite(scale) && scale >= 1 && scale <= MAX_SCALE, "hr_scale",
                "hr_scale must be between 1 and " + Infotext.number(MAX_SCALE) + ", got " + scale);
        require(resizeX >= 0 && resizeX <= MAX_RESIZE, "hr_resize_x", "hr_resize_x must be between 0 and " + MAX_RESIZE + ", got " + resizeX);
        require(resizeY >= 0 && resizeY <= MAX_RESIZE, "hr_resize_y", "hr_resize_y must be between 0 and " + MAX_RESIZE + ", got " + resizeY);
        require(upscaler != null && Upscalers.find(upscaler).isPresent(), "hr_upscaler",
                "hr_upscaler must be one of " + Upscalers.names() + ", got " + upscaler);
        require(secondPassSteps >= 0 && secondPassSteps <= GenerationRequest.MAX_STEPS, "hr_second_pass_steps",
                "hr_second_pass_steps must be between 0 (the same as steps) and " + GenerationRequest.MAX_STEPS + ", got " + secondPassSteps);
        require(denoisingStrength > 0 && denoisingStrength <= 1, "denoising_strength",
                "denoising_strength must be in (0, 1], got " + denoisingStrength);
    }

    /** Twice the size with the "Latent" upscaler, the request's steps and A1111's default strength 0.7. */
    public static HiresFix scaled(double scale, String upscaler) {
        return new HiresFix(scale, 0, 0, upscaler, 0, DEFAULT_DENOISING_STRENGTH, null, null, null);
    }

    /** A copy resized to {@code width} x {@code height} (either may be 0: from the aspect ratio). */
    public HiresFix withResize(int width, int height) {
        return new HiresFix(scale, width, height, upscaler, secondPassSteps, denoisingStrength, sampler, prompt, negativePrompt);
    }

    public HiresFix withSecondPassSteps(int value) {
        return new HiresFix(scale, resizeX, resizeY, upscaler, value, denoisingStrength, sampler, prompt, negativePrompt);
    }

    public HiresFix withDenoisingStrength(double value) {
        return new HiresFix(scale, resizeX, resizeY, upscaler, secondPassSteps, value, sampler, prompt, negativePrompt);
    }

    public HiresFix withSampler(Sampler value) {
        return new HiresFix(scale, resizeX, resizeY, upscaler, secondPassSteps, denoisingStrength, value, prompt, negativePrompt);
    }

    public HiresFix withPrompts(String hiresPrompt, String hiresNegativePrompt) {
        return new HiresFix(scale, resizeX, resizeY, upscaler, secondPassSteps, denoisingStrength, sampler, hiresPrompt, hiresNegativePrompt);
    }

    /** Whether a target size was given instead of a scale. */
    public boolean resizes() {
        return resizeX != 0 || resizeY != 0;
    }

    /**
     * The second pass's size for a first pass of {@code width} x {@code height}, as A1111's
     * {@code init_hr}: the scaled size, or the resize (one side 0: kept in proportion; both given with
     * another aspect ratio: upscaled to cover it, then cropped centrally), each side rounded down to a
     * multiple of {@code factor} (the VAE's; A1111's latents do the same).
     */
    public Target target(int width, int height, int factor) {
        int upscaledW;
        int upscaledH;
        int targetW;
        int targetH;
        if (!resizes()) {
            upscaledW = targetW = (int) (width * scale);
            upscaledH = targetH = (int) (height * scale);
        } else if (resizeY == 0) {
            upscaledW = targetW = resizeX;
            upscaledH = targetH = resizeX * height / width;
        } else if (resizeX == 0) {
            upscaledW = targetW = resizeY * width / height;
            upscaledH = targetH = resizeY;
        } else {
            targetW = resizeX;
            targetH = resizeY;
            if ((double) width / height < (double) resizeX / resizeY) {
                upscaledW = resizeX;
                upscaledH = resizeX * height / width;
            } else {
                upscaledW = resizeY * width / height;
                upscaledH = resizeY;
            }
        }
        Target t = new Target(targetW / factor * factor, targetH / factor * factor, upscaledW / factor * factor, upscaledH / factor * factor);
        require(t.width() >= factor && t.height() >= factor, resizes() ? "hr_resize_x" : "hr_scale",
                "the hires size " + targetW + "x" + targetH + " is smaller than one latent pixel");
        require(t.width() <= MAX_RESIZE && t.height() <= MAX_RESIZE, resizes() ? "hr_resize_x" : "hr_scale",
                "the hires size " + targetW + "x" + targetH + " is larger than " + MAX_RESIZE + " pixels");
        return t;
    }

    private static void require(boolean condition, String field, String message) {
        if (!condition) {
            throw new InvalidRequestException(field, message);
        }
    }
}
