package daguerre.diffusion.pipeline;

import daguerre.diffusion.lora.LoraTags;
import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.sampling.Sampler;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything one text-to-image or image-to-image generation needs, validated on construction: the
 * one set of rules every entry point (CLI, each HTTP API at submit, the engine) applies. What
 * depends on the model (clip skip against its text encoder's depth, sizes against its VAE's
 * factor) is checked by the pipeline.
 *
 * @param prompt the prompt, in A1111's syntax ({@code (word:1.3)}, {@code [word]}, {@code BREAK})
 * @param negativePrompt what to steer away from; "" for none (the unconditional context)
 * @param sampler the sampling algorithm
 * @param steps number of denoising steps (1..1000)
 * @param guidanceScale classifier-free guidance scale; at or below 1 there is no unconditional pass
 * @param guidanceRescale guidance rescale phi in [0, 1] (Lin et al. 2023, eq. 16); 0 disables it
 * @param clipSkip A1111's clip skip: 1 uses the text encoder's last layer, 2 the one before, ...
 *                 (at most the model's number of layers)
 * @param seed the seed of image 0; image i uses seed + i
 * @param width image width in pixels, a multiple of 8 from {@link #MIN_SIZE}; 0 means the model's default
 * @param height image height in pixels, a multiple of 8 from {@link #MIN_SIZE}; 0 means the model's default
 * @param batchSize number of images (1..64)
 * @param initImage the image-to-image source, or null for text-to-image
 * @param strength image-to-image denoising strength in (0, 1], leaving at least one of the
 *                 {@code steps} to run ({@code int(steps * strength) >= 1}, as diffusers counts them);
 *                 ignored without an init image
 * @param eta DDIM's eta in [0, 1] (0: deterministic DDIM); only with the DDIM sampler
 * @param microConditioning SDXL's size and crop conditioning; null for its defaults (the image size, no
 *                 crop); ignored by SD 1.x/2.x models
 * @param negativeMicroConditioning the same for the unconditional pass; null for the same as {@code microConditioning}
 * @param cacheInterval step caching (DeepCache, Ma et al. 2023), 1..steps: 1 (the default) runs the whole U-Net at
 *                 every step; N >= 2 runs it at every N-th model call (the first always) and only its shallow
 *                 blocks, on the deep features kept then, at the N - 1 calls in between
 * @param loras LoRAs asked for apart from the prompts' {@code <lora:name:w>} tags (the native API's
 *                 {@code loras}, the CLI's {@code --lora}); {@link #allLoras()} is every LoRA the request runs
 * @param inpaint inpainting of the init image (mask and A1111's options); null for none
 * @param hiresFix A1111's hires fix (text-to-image only: a second, image-to-image pass at a larger size); null for none
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        Sampler sampler,
        int steps,
        double guidanceScale,
        double guidanceRescale,
        int clipSkip,
        long seed,
        int width,
        int height,
        int batchSize,
        BufferedImage initImage,
        double strength,
        double eta,
        MicroConditioning microConditioning,
        MicroConditioning negativeMicroConditioning,
        int cacheInterval,
        List<RequestedLora> loras,
        InpaintOptions inpaint,
        HiresFix hiresFix) {

    /** The guidance scale when a request gives none (A1111's default, the same in every entry point). */
    public static final double DEFAULT_GUIDANCE_SCALE = 7.0;

    public static final int MAX_STEPS = 1000;
    public static final int MAX_BATCH = 64;
    public static final double MAX_GUIDANCE_SCALE = 100;
    /** The smallest width or height: one latent pixel of an 8x VAE. */
    public static final int MIN_SIZE = 8;

    public GenerationRequest {
        require(prompt != null, "prompt", "is required");
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        require(sampler != null, "sampler", "is required");
        require(steps >= 1 && steps <= MAX_STEPS, "steps", "must be between 1 and " + MAX_STEPS + ", got " + steps);
        require(Double.isFinite(guidanceScale) && guidanceScale >= 0 && guidanceScale <= MAX_GUIDANCE_SCALE,
                "guidance_scale", "must be between 0 and " + Infotext.number(MAX_GUIDANCE_SCALE) + ", got " + guidanceScale);
        require(guidanceRescale >= 0 && guidanceRescale <= 1, "guidance_rescale", "must be between 0 and 1, got " + guidanceRescale);
        require(clipSkip >= 1, "clip_skip", "must be at least 1, got " + clipSkip);
        require(width == 0 || (width >= MIN_SIZE && width % 8 == 0), "width", "must be a multiple of 8 from " + MIN_SIZE + ", got " + width);
        require(height == 0 || (height >= MIN_SIZE && height % 8 == 0), "height", "must be a multiple of 8 from " + MIN_SIZE + ", got " + height);
        require(batchSize >= 1 && batchSize <= MAX_BATCH, "batch_size", "must be between 1 and " + MAX_BATCH + ", got " + batchSize);
        require(initImage == null || (strength > 0 && strength <= 1), "strength", "must be in (0, 1], got " + strength);
        require(initImage == null || (int) (steps * strength) >= 1, "strength",
                "x steps must leave at least one step to run, got " + strength + " x " + steps);
        requireEmphasis(LoraTags.strip(prompt), "prompt");
        requireEmphasis(LoraTags.strip(negativePrompt), "negative_prompt");
        require(eta >= 0 && eta <= 1, "eta", "must be between 0 and 1, got " + eta);
        require(eta == 0 || sampler == Sampler.DDIM, "eta", "applies to the DDIM sampler only");
        require(cacheInterval >= 1 && cacheInterval <= steps, "cache_interval",
                "must be between 1 (no step caching) and steps (" + steps + "), got " + cacheInterval);
        loras = loras == null ? List.of() : List.copyOf(loras);
        LoraTags.parse(prompt, "prompt");
        LoraTags.parse(negativePrompt, "negative_prompt");
        require(inpaint == null || initImage != null, "mask", "needs an init image to inpaint");
        require(inpaint == null || (inpaint.mask().getWidth() == initImage.getWidth()
                        && inpaint.mask().getHeight() == initImage.getHeight()), "mask",
                inpaint == null ? "" : "must have the init image's size " + initImage.getWidth() + "x" + initImage.getHeight()
                        + ", got " + inpaint.mask().getWidth() + "x" + inpaint.mask().getHeight());
        require(hiresFix == null || initImage == null, "enable_hr", "(hires fix) applies to text-to-image only");
        if (hiresFix != null) {
            int hiresSteps = hiresFix.secondPassSteps() > 0 ? hiresFix.secondPassSteps() : steps;
            require((int) (hiresSteps * hiresFix.denoisingStrength()) >= 1, "denoising_strength",
                    "x hires steps must leave at least one step to run, got " + hiresFix.denoisingStrength() + " x " + hiresSteps);
            requireEmphasis(LoraTags.strip(hiresFix.prompt()), "hr_prompt");
            requireEmphasis(LoraTags.strip(hiresFix.negativePrompt()), "hr_negative_prompt");
        }
    }

    /**
     * Every LoRA this request runs, in order: the prompt's tags, the negative prompt's (A1111 applies
     * those too, to the whole model), then {@link #loras()}.
     */
    public List<RequestedLora> allLoras() {
        List<RequestedLora> all = new ArrayList<>(LoraTags.parse(prompt, "prompt"));
        all.addAll(LoraTags.parse(negativePrompt, "negative_prompt"));
        all.addAll(loras);
        return all;
    }

    /** Whether this request inpaints (an init image with a mask). */
    public boolean isInpainting() {
        return inpaint != null;
    }

    /** Whether step caching is on: the U-Net's deep features are reused between full steps. */
    public boolean cachesSteps() {
        return cacheInterval > 1;
    }

    /** A builder with A1111's defaults: Euler a, 20 steps, CFG 7, seed 0, the model's size, one image. */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** A builder pre-filled with this request's values. */
    public Builder toBuilder() {
        return new Builder(prompt).negativePrompt(negativePrompt).sampler(sampler).steps(steps)
                .guidanceScale(guidanceScale).guidanceRescale(guidanceRescale).clipSkip(clipSkip).seed(seed)
                .size(width, height).batchSize(batchSize).initImage(initImage, strength).eta(eta)
                .microConditioning(microConditioning, negativeMicroConditioning).cacheInterval(cacheInterval).loras(loras)
                .inpaint(inpaint).hiresFix(hiresFix);
    }

    /** The micro-conditioning of the conditional pass for a {@code width} x {@code height} image. */
    public MicroConditioning microConditioningFor(int imageWidth, int imageHeight) {
        return microConditioning != null ? microConditioning : MicroConditioning.defaults(imageWidth, imageHeight);
    }

    /** The micro-conditioning of the unconditional pass: its own, else the conditional pass's. */
    public MicroConditioning negativeMicroConditioningFor(int imageWidth, int imageHeight) {
        return negativeMicroConditioning != null ? negativeMicroConditioning : microConditioningFor(imageWidth, imageHeight);
    }

    /** Whether this is an image-to-image request. */
    public boolean isImageToImage() {
        return initImage != null;
    }

    /** The prompt's A1111 emphasis syntax parses ({@code (a:1.2.3)} does not). */
    private static void requireEmphasis(String text, String field) {
        try {
            daguerre.diffusion.text.EmphasisParser.parse(text);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(field, field + " has " + e.getMessage());
        }
    }

    private static void require(boolean condition, String field, String message) {
        if (!condition) {
            throw new InvalidRequestException(field, field + " " + message);
        }
    }

    /** Fluent construction of a {@link GenerationRequest}. */
    public static final class Builder {
        private final String prompt;
        private String negativePrompt = "";
        private Sampler sampler = Sampler.EULER_A;
        private int steps = 20;
        private double guidanceScale = DEFAULT_GUIDANCE_SCALE;
        private double guidanceRescale;
        private int clipSkip = 1;
        private long seed;
        private int width;
        private int height;
        private int batchSize = 1;
        private BufferedImage initImage;
        private double strength = 0.75;
        private double eta;
        private MicroConditioning microConditioning;
        private MicroConditioning negativeMicroConditioning;
        private int cacheInterval = 1;
        private List<RequestedLora> loras = List.of();
        private InpaintOptions inpaint;
        private HiresFix hiresFix;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        public Builder negativePrompt(String value) {
            negativePrompt = value;
            return this;
        }

        public Builder sampler(Sampler value) {
            sampler = value;
            return this;
        }

        public Builder steps(int value) {
            steps = value;
            return this;
        }

        public Builder guidanceScale(double value) {
            guidanceScale = value;
            return this;
        }

        public Builder guidanceRescale(double value) {
            guidanceRescale = value;
            return this;
        }

        public Builder clipSkip(int value) {
            clipSkip = value;
            return this;
        }

        public Builder seed(long value) {
            seed = value;
            return this;
        }

        public Builder size(int newWidth, int newHeight) {
            width = newWidth;
            height = newHeight;
            return this;
        }

        public Builder batchSize(int value) {
            batchSize = value;
            return this;
        }

        public Builder initImage(BufferedImage image, double denoisingStrength) {
            initImage = image;
            strength = denoisingStrength;
            return this;
        }

        public Builder eta(double value) {
            eta = value;
            return this;
        }

        /** SDXL's conditioning of the conditional and the unconditional pass; null for the defaults. */
        public Builder microConditioning(MicroConditioning conditional, MicroConditioning unconditional) {
            microConditioning = conditional;
            negativeMicroConditioning = unconditional;
            return this;
        }

        /** Step caching: a full U-Net pass every {@code value} steps (1: every step, no caching). */
        public Builder cacheInterval(int value) {
            cacheInterval = value;
            return this;
        }

        /** LoRAs beside the prompts' tags. */
        public Builder loras(List<RequestedLora> value) {
            loras = value;
            return this;
        }

        /** Inpainting of the init image; null for none. */
        public Builder inpaint(InpaintOptions value) {
            inpaint = value;
            return this;
        }

        /** A1111's hires fix; null for none. */
        public Builder hiresFix(HiresFix value) {
            hiresFix = value;
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(prompt, negativePrompt, sampler, steps, guidanceScale, guidanceRescale,
                    clipSkip, seed, width, height, batchSize, initImage, strength, eta, microConditioning, negativeMicroConditioning,
                    cacheInterval, loras, inpaint, hiresFix);
        }
    }
}
