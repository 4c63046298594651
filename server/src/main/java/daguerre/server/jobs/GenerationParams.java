package daguerre.server.jobs;

/**
 * One validated generation request, as the engine receives it.
 *
 * @param prompt the positive prompt
 * @param negativePrompt the negative prompt, "" for none
 * @param model a model id from {@link ImageEngine#models()}
 * @param sampler a sampler API name from {@link ImageEngine#samplers()}
 * @param steps the number of denoising steps
 * @param guidanceScale the classifier-free guidance scale
 * @param guidanceRescale the guidance rescale factor (0 = off)
 * @param clipSkip the CLIP layer counted from the end whose output conditions the U-Net (1 = last)
 * @param seed the seed of image 0 (never -1 here); image i uses {@code seed + i}
 * @param width the image width in pixels, a multiple of 8
 * @param height the image height in pixels, a multiple of 8
 * @param n the number of images
 * @param initImage the init image as PNG bytes for image-to-image, or null
 * @param strength the denoising strength for image-to-image, in [0, 1]
 */
public record GenerationParams(
        String prompt,
        String negativePrompt,
        String model,
        String sampler,
        int steps,
        double guidanceScale,
        double guidanceRescale,
        int clipSkip,
        long seed,
        int width,
        int height,
        int n,
        byte[] initImage,
        double strength) {}
