package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Scopes;
import daguerre.diffusion.sampling.Denoiser;
import daguerre.diffusion.sampling.NoiseSource;
import daguerre.diffusion.sampling.SamplerState;
import daguerre.diffusion.sampling.Sampling;
import daguerre.diffusion.sampling.SamplingPlan;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.vae.LatentDistribution;
import java.awt.Image;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Text-to-image and image-to-image with a {@link StableDiffusionModel}:
 *
 * <pre>
 * prompt --tokenizer--> ids --text encoder--> context [B, 77k, D]
 * seed   --SeededNoise--> latents [B, 4, h, w]            (image i uses seed + i)
 * for each step: sampler step over CFG(UNet(latents, t, context))
 * latents / scaling_factor --VAE decoder--> pixels [B, 3, H, W] --> images with their infotext
 * </pre>
 *
 * Every request runs in a child manager of the model's and every step in a child of that, so memory
 * does not grow across requests. One pipeline may serve requests from several threads one at a time.
 */
public final class StableDiffusionPipeline {

    private final StableDiffusionModel model;

    public StableDiffusionPipeline(StableDiffusionModel model) {
        this.model = model;
    }

    public StableDiffusionModel model() {
        return model;
    }

    /**
     * Generates {@code request.batchSize()} images; image i's noise comes from seed + i.
     *
     * @param cancelled checked between steps; when true the job stops with {@link CancellationException}
     */
    public List<GeneratedImage> generate(GenerationRequest request, GenerationListener listener, BooleanSupplier cancelled) {
        return generate(request, SeededNoise.consecutive(request.seed(), request.batchSize()), listener, cancelled);
    }

    /**
     * As {@link #generate(GenerationRequest, GenerationListener, BooleanSupplier)} with an explicit
     * noise source: its first draw is the initial latents (image-to-image: the VAE sample's noise,
     * then the noise added at the first timestep), later draws feed stochastic samplers.
     */
    public List<GeneratedImage> generate(GenerationRequest request, NoiseSource noise, GenerationListener listener,
                                         BooleanSupplier cancelled) {
        int width = request.width() > 0 ? request.width() : model.defaultImageSize();
        int height = request.height() > 0 ? request.height() : model.defaultImageSize();
        checkSize(width, height);
        try (NDManager job = model.manager().newSubManager()) {
            // 1. Encode the prompt (and the negative prompt for classifier-free guidance).
            Denoiser denoiser = denoiser(request, job);

            // 2. Initial latents: pure noise, or the encoded init image noised to the first timestep.
            SamplingPlan plan = SamplingPlan.of(request.sampler(), model.scheduler(), request.steps()).withEta(request.eta());
            int factor = model.vaeScaleFactor();
            Shape latentShape = new Shape(request.batchSize(), model.vae().config().latentChannels(),
                    height / factor, width / factor);
            SamplerState state = request.isImageToImage()
                    ? SamplerState.startFromImage(plan.withStrength(request.strength()),
                            encodeImage(request.initImage(), width, height, latentShape, noise, job), noise, job)
                    : SamplerState.start(plan, latentShape, noise, job);

            // 3. Denoising loop, one child manager per step (inside Sampling.run).
            boolean previewable = LatentPreview.supports(model.vae().config().latentChannels());
            NDArray latents = Sampling.run(state, denoiser, (step, total) -> listener.onStep(step, total,
                    () -> previewable ? LatentPreview.render(state.denoised()) : List.of()), cancelled);

            // 4. Decode each image on its own (bounded memory; the same result at any batch position).
            List<GeneratedImage> images = new ArrayList<>();
            long[] seeds = noise instanceof SeededNoise seeded ? seeded.seeds() : null;
            for (int i = 0; i < request.batchSize(); i++) {
                long seed = seeds != null ? seeds[i] : request.seed() + i;
                images.add(new GeneratedImage(decode(latents.get(i).expandDims(0)), seed,
                        infotext(request, seed, width, height)));
            }
            return images;
        }
    }

    /** The raw model output for the sampler: classifier-free guidance when the scale is above 1. */
    private Denoiser denoiser(GenerationRequest request, NDManager job) {
        PromptEncoder encoder = new PromptEncoder(model.tokenizer(), model.textEncoder(),
                PromptEncoder.Options.DEFAULTS.withClipSkip(request.clipSkip()));
        ConditionedModel unet = ConditionedModel.of(model.unet());
        int batch = request.batchSize();
        if (request.guidanceScale() <= 1) {
            NDArray context = encoder.encode(request.prompt(), job).repeat(0, batch); // [B, 77k, D]
            return (x, t) -> unet.predict(x, t, context);
        }
        List<NDArray> pair = encoder.encodeSameLength(List.of(request.negativePrompt(), request.prompt()), job);
        NDArray contexts = pair.get(0).repeat(0, batch).concat(pair.get(1).repeat(0, batch), 0); // [2B, 77k, D]
        return new ClassifierFreeGuidance(unet, contexts, request.guidanceScale(), request.guidanceRescale());
    }

    /** Image-to-image: VAE posterior sample of the init image, scaled, one row per batch image. */
    private NDArray encodeImage(BufferedImage image, int width, int height, Shape latentShape, NoiseSource noise,
                                NDManager job) {
        BufferedImage sized = image.getWidth() == width && image.getHeight() == height ? image : resize(image, width, height);
        NDArray pixels = ImageTensors.fromImage(job, sized); // [1, 3, H, W] in [-1, 1]
        NDArray sampleNoise = noise.next(latentShape, job);
        return Scopes.scoped(() -> {
            LatentDistribution posterior = model.vae().encode(pixels);
            NDArray mean = posterior.mean().repeat(0, latentShape.get(0));
            NDArray logvar = posterior.logvar().repeat(0, latentShape.get(0));
            return new LatentDistribution(mean, logvar).sample(sampleNoise).mul(model.vae().config().scalingFactor());
        }, pixels, sampleNoise);
    }

    private BufferedImage decode(NDArray latent) {
        try (NDManager scope = latent.getManager().newSubManager()) {
            NDArray pixels = Scopes.scoped(() -> model.vae().decode(latent.div(model.vae().config().scalingFactor())), latent);
            pixels.attach(scope);
            return ImageTensors.toImages(pixels).get(0);
        }
    }

    private Infotext infotext(GenerationRequest request, long seed, int width, int height) {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("Steps", Integer.toString(request.steps()));
        params.put("Sampler", request.sampler().a1111Name());
        params.put("CFG scale", Infotext.number(request.guidanceScale()));
        params.put("Seed", Long.toString(seed));
        params.put("Size", width + "x" + height);
        params.put("Model hash", model.hash());
        params.put("Model", model.id());
        if (request.isImageToImage()) {
            params.put("Denoising strength", Infotext.number(request.strength()));
        }
        if (request.clipSkip() > 1) {
            params.put("Clip skip", Integer.toString(request.clipSkip()));
        }
        if (request.guidanceRescale() > 0) {
            params.put("Guidance rescale", Infotext.number(request.guidanceRescale()));
        }
        if (request.eta() > 0) {
            params.put("Eta DDIM", Infotext.number(request.eta()));
        }
        return new Infotext(request.prompt(), request.negativePrompt(), params);
    }

    private void checkSize(int width, int height) {
        int factor = model.vaeScaleFactor();
        if (width % factor != 0) {
            throw new InvalidRequestException("width", "width must be a multiple of " + factor + " for this model, got " + width);
        }
        if (height % factor != 0) {
            throw new InvalidRequestException("height", "height must be a multiple of " + factor + " for this model, got " + height);
        }
    }

    private static BufferedImage resize(BufferedImage image, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        out.getGraphics().drawImage(image.getScaledInstance(width, height, Image.SCALE_AREA_AVERAGING), 0, 0, null);
        return out;
    }
}
