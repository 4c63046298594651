package daguerre.server.jobs;

import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.HiresFix;
import daguerre.diffusion.pipeline.InpaintOptions;
import daguerre.diffusion.pipeline.MicroConditioning;
import daguerre.diffusion.sampling.Sampler;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * One validated generation request, as the queue stores it and the engine receives it: the
 * diffusion {@link GenerationRequest} plus what the service adds (the model id, the init image as
 * stored PNG bytes). {@link #toRequest} is the one mapping between the two; the submit check and
 * the engine both go through it, so that both apply the same rules.
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
 * @param strength the denoising strength for image-to-image, in (0, 1]
 * @param eta DDIM's eta in [0, 1]; 0 for every other sampler
 * @param microConditioning SDXL's size and crop conditioning, or null for its defaults (only SDXL models take one)
 * @param negativeMicroConditioning the same for the unconditional pass, or null for {@code microConditioning}
 * @param cacheInterval step caching: a full U-Net pass every this many steps, shallow ones between (1 = off)
 * @param loras LoRAs asked for apart from the prompts' {@code <lora:name:w>} tags (the native API's {@code loras})
 * @param inpaint inpainting of the init image (the mask as PNG bytes and its options), or null
 * @param hiresFix the hires fix (text-to-image only), or null
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
        double strength,
        double eta,
        MicroConditioning microConditioning,
        MicroConditioning negativeMicroConditioning,
        int cacheInterval,
        List<RequestedLora> loras,
        Inpaint inpaint,
        HiresFix hiresFix) {

    public GenerationParams {
        loras = loras == null ? List.of() : List.copyOf(loras);
    }

    /** A request without inpainting or hires fix. */
    public GenerationParams(String prompt, String negativePrompt, String model, String sampler, int steps, double guidanceScale,
            double guidanceRescale, int clipSkip, long seed, int width, int height, int n, byte[] initImage, double strength,
            double eta, MicroConditioning microConditioning, MicroConditioning negativeMicroConditioning, int cacheInterval,
            List<RequestedLora> loras) {
        this(prompt, negativePrompt, model, sampler, steps, guidanceScale, guidanceRescale, clipSkip, seed, width, height, n,
                initImage, strength, eta, microConditioning, negativeMicroConditioning, cacheInterval, loras, null, null);
    }

    /**
     * Inpainting as stored: the mask as PNG bytes (white repaints) and A1111's options.
     *
     * @param mask the mask PNG, of the init image's size
     * @param maskBlur Gaussian blur in pixels ({@code mask_blur})
     * @param invert repaint the black part ({@code inpainting_mask_invert})
     * @param fill A1111's {@code inpainting_fill} index: 0 fill, 1 original, 2 latent noise, 3 latent nothing
     * @param fullRes "Only masked" ({@code inpaint_full_res})
     * @param fullResPadding padding around the mask's box for "Only masked" ({@code inpaint_full_res_padding})
     */
    public record Inpaint(byte[] mask, int maskBlur, boolean invert, int fill, boolean fullRes, int fullResPadding) {

        /** The library's options, with the mask decoded. */
        public InpaintOptions toOptions(BufferedImage decodedMask) {
            return new InpaintOptions(decodedMask, maskBlur, invert, InpaintOptions.Fill.fromA1111Index(fill), fullRes, fullResPadding);
        }
    }

    /** The same request with image 0's seed {@code newSeed}. */
    public GenerationParams withSeed(long newSeed) {
        return new GenerationParams(prompt, negativePrompt, model, sampler, steps, guidanceScale, guidanceRescale, clipSkip,
                newSeed, width, height, n, initImage, strength, eta, microConditioning, negativeMicroConditioning, cacheInterval,
                loras, inpaint, hiresFix);
    }

    /**
     * The diffusion request, validated by its constructor.
     *
     * @param decodedInitImage {@link #initImage} decoded, or null for text-to-image
     * @throws daguerre.diffusion.pipeline.InvalidRequestException naming the field that breaks a rule
     * @throws IllegalArgumentException for a sampler name the diffusion core does not know
     */
    public GenerationRequest toRequest(BufferedImage decodedInitImage) {
        return toRequest(decodedInitImage, inpaint == null ? null : decode(inpaint.mask(), "mask"));
    }

    /** As {@link #toRequest(BufferedImage)}, with the mask decoded by the caller (null when not inpainting). */
    public GenerationRequest toRequest(BufferedImage decodedInitImage, BufferedImage decodedMask) {
        return GenerationRequest.builder(prompt)
                .negativePrompt(negativePrompt)
                .sampler(Sampler.fromName(sampler))
                .steps(steps)
                .guidanceScale(guidanceScale)
                .guidanceRescale(guidanceRescale)
                .clipSkip(clipSkip)
                .seed(seed)
                .size(width, height)
                .batchSize(n)
                .initImage(decodedInitImage, strength)
                .eta(eta)
                .microConditioning(microConditioning, negativeMicroConditioning)
                .cacheInterval(cacheInterval)
                .loras(loras)
                .inpaint(inpaint == null ? null : inpaint.toOptions(decodedMask))
                .hiresFix(hiresFix)
                .build();
    }

    private static BufferedImage decode(byte[] png, String field) {
        try {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            if (image == null) {
                throw new IllegalArgumentException(field + " is not a readable image");
            }
            return image;
        } catch (IOException e) {
            throw new IllegalArgumentException(field + " is not a readable image: " + e.getMessage(), e);
        }
    }
}
