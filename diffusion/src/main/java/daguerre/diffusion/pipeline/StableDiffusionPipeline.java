package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.lora.LoraTags;
import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.lora.RuntimeLoras;
import daguerre.diffusion.nn.Cancellation;
import daguerre.diffusion.nn.LowRankBranch;
import daguerre.diffusion.nn.LowRankBranches;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.nn.Scopes;
import daguerre.diffusion.sampling.ModelCall;
import daguerre.diffusion.sampling.NoiseSource;
import daguerre.diffusion.sampling.SamplerState;
import daguerre.diffusion.sampling.SamplingPlan;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.text.SdxlPromptEncoder;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConditioning;
import daguerre.diffusion.vae.LatentDistribution;
import daguerre.diffusion.vae.VaeTiling;
import java.awt.Image;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * Inpainting ({@link GenerationRequest#inpaint()}) adds the mask: as extra U-Net input channels for
 * 9-channel inpainting U-Nets, by blending the noised original back outside the mask after every step
 * for 4-channel ones, and by pasting the original back after decoding. A hires fix
 * ({@link GenerationRequest#hiresFix()}) is two jobs: {@link #start} runs the first pass, {@link #nextPass}
 * the image-to-image pass at the larger size.
 *
 * Every request runs in a child manager of the model's and every step in a child of that, so memory
 * does not grow across requests. One pipeline may serve requests from several threads one at a time.
 */
public final class StableDiffusionPipeline {

    private final StableDiffusionModel model;
    private final VaeTiling vaeTiling;
    private final LoraLibrary loras;
    private final TextualInversionLibrary embeddings;

    /** A pipeline that tiles large VAE decodes and encodes as {@link VaeTiling#AUTO} does, without LoRAs. */
    public StableDiffusionPipeline(StableDiffusionModel model) {
        this(model, VaeTiling.AUTO, null);
    }

    /** A pipeline whose VAE decodes and encodes tile as {@code vaeTiling} says, without LoRAs. */
    public StableDiffusionPipeline(StableDiffusionModel model, VaeTiling vaeTiling) {
        this(model, vaeTiling, null);
    }

    /**
     * A pipeline whose VAE decodes and encodes tile as {@code vaeTiling} says (a runtime setting, the
     * same for every request), and whose requests' LoRAs come from {@code loras} (null: requests with
     * LoRAs are refused).
     */
    public StableDiffusionPipeline(StableDiffusionModel model, VaeTiling vaeTiling, LoraLibrary loras) {
        this(model, vaeTiling, loras, null);
    }

    /**
     * As {@link #StableDiffusionPipeline(StableDiffusionModel, VaeTiling, LoraLibrary)}, prompts also using
     * the textual-inversion embeddings of {@code embeddings} (null: none) by their trigger words.
     */
    public StableDiffusionPipeline(StableDiffusionModel model, VaeTiling vaeTiling, LoraLibrary loras,
                                   TextualInversionLibrary embeddings) {
        this.model = model;
        this.vaeTiling = Objects.requireNonNull(vaeTiling, "vaeTiling");
        this.loras = loras;
        this.embeddings = embeddings;
    }

    public StableDiffusionModel model() {
        return model;
    }

    /** When this pipeline's VAE passes run in tiles. */
    public VaeTiling vaeTiling() {
        return vaeTiling;
    }

    /**
     * Generates {@code request.batchSize()} images; image i's noise comes from seed + i.
     *
     * @param cancelled checked between steps and inside the U-Net and VAE passes (at every
     *     convolution and attention call, see {@link Cancellation}); when true the job stops with
     *     {@link CancellationException}
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
        return generate(request, noise, listener, cancelled, () -> false);
    }

    /**
     * As {@link #generate(GenerationRequest, GenerationListener, BooleanSupplier)}; once
     * {@code finishEarly} returns true (checked between steps) the remaining steps are skipped and
     * the images are decoded from the latest denoised estimate (A1111's interrupt and skip).
     */
    public List<GeneratedImage> generate(GenerationRequest request, GenerationListener listener, BooleanSupplier cancelled,
                                         BooleanSupplier finishEarly) {
        return generate(request, SeededNoise.consecutive(request.seed(), request.batchSize()), listener, cancelled, finishEarly);
    }

    private List<GeneratedImage> generate(GenerationRequest request, NoiseSource noise, GenerationListener listener,
                                          BooleanSupplier cancelled, BooleanSupplier finishEarly) {
        try (GenerationJob job = start(request, noise, listener, cancelled, finishEarly)) {
            return run(job);
        }
    }

    /**
     * Prepares a job: encodes the prompt (and the negative prompt for guidance) and draws the
     * initial latents. The caller closes the job.
     */
    public GenerationJob start(GenerationRequest request, NoiseSource noise, GenerationListener listener,
                               BooleanSupplier cancelled) {
        return start(request, noise, listener, cancelled, () -> false);
    }

    /**
     * As {@link #start(GenerationRequest, NoiseSource, GenerationListener, BooleanSupplier)}, with a finish-early check.
     * For a hires-fix request this is the first pass; once it is finished, {@link #nextPass} gives the second.
     */
    public GenerationJob start(GenerationRequest request, NoiseSource noise, GenerationListener listener,
                               BooleanSupplier cancelled, BooleanSupplier finishEarly) {
        if (request.hiresFix() == null) {
            return start(request, noise, listener, cancelled, finishEarly, null, 1);
        }
        HiresPlan hires = hiresPlan(request);
        GenerationListener counted = (step, steps, preview) -> listener.onStep(step, hires.totalSteps(), preview);
        GenerationJob job = start(request.toBuilder().hiresFix(null).build(), noise, counted, cancelled, finishEarly, null, 1);
        job.hires = hires;
        job.hiresListener = listener;
        return job;
    }

    /**
     * What a hires fix runs: the first pass's size, the second pass's request (the target size, the
     * hires steps, sampler and prompts, else the request's), its upscaler, and the steps of both passes.
     */
    record HiresPlan(GenerationRequest request, int width, int height, HiresFix.Target target, GenerationRequest second,
                     Upscaler upscaler, int firstSteps, int totalSteps) {}

    private HiresPlan hiresPlan(GenerationRequest request) {
        HiresFix hires = request.hiresFix();
        int width = request.width() > 0 ? request.width() : model.defaultImageSize();
        int height = request.height() > 0 ? request.height() : model.defaultImageSize();
        HiresFix.Target target = hires.target(width, height, model.vaeScaleFactor());
        checkSize(target.width(), target.height());
        GenerationRequest second = secondPass(request, target);
        int firstSteps = modelCalls(request.sampler(), request.steps(), 1);
        return new HiresPlan(request, width, height, target, second, Upscalers.find(hires.upscaler()).orElseThrow(),
                firstSteps, firstSteps + modelCalls(second.sampler(), second.steps(), hires.denoisingStrength()));
    }

    /**
     * A hires fix's second pass, for a finished first pass ({@link #start} of a hires-fix request): the
     * first pass's latents upscaled (latent upscalers) or its images decoded, upscaled and encoded again
     * (pixel upscalers, a VAE sample), cropped centrally to the target as A1111 does, then an
     * image-to-image job at the target size with the hires strength, on fresh noise from the same seeds
     * (an explicit noise source is drawn on). Its listener hears the steps of both passes counted
     * together; its images carry the first pass's infotext with A1111's hires fields. The caller closes
     * both jobs (the first only after this returns).
     *
     * @return the second pass, or null when {@code job} is not the unfinished business of a hires fix
     *     (no hires fix, already the second pass, or stopped early: then it is decoded as it stands)
     */
    public GenerationJob nextPass(GenerationJob job) {
        HiresPlan hires = job.hires;
        if (hires == null || !job.isFinished()) {
            return null;
        }
        NoiseSource noise = job.noise instanceof SeededNoise seeded ? new SeededNoise(seeded.seeds()) : job.noise;
        NDArray upscaled = Cancellation.whileChecking(job.cancelled,
                () -> upscale(job.state.result(), hires.upscaler(), hires.target(), noise, job.manager));
        GenerationListener listener = job.hiresListener;
        GenerationListener counted = (step, steps, preview) -> listener.onStep(hires.firstSteps() + step, hires.totalSteps(), preview);
        GenerationJob second = start(hires.second(), noise, counted, job.cancelled, job.finishEarly, upscaled,
                hires.request().hiresFix().denoisingStrength());
        second.hiresOf = hires;
        return second;
    }

    /** Runs every pass of a job to its end (or until it is finished early) and decodes the last. */
    private List<GeneratedImage> run(GenerationJob job) {
        while (!job.isFinished() && !job.isFinishingEarly()) {
            job.checkCancelled();
            step(List.of(job));
        }
        try (GenerationJob next = nextPass(job)) {
            return next == null ? finish(job) : run(next);
        }
    }

    /** Model calls of a job with this sampler, steps and strength (as its sampler state will count them). */
    private int modelCalls(daguerre.diffusion.sampling.Sampler sampler, int steps, double strength) {
        SamplingPlan plan = SamplingPlan.of(sampler, model.scheduler(), steps).withStrength(strength);
        try (NDManager scratch = model.manager().newSubManager()) {
            NDArray probe = scratch.zeros(new Shape(1, 1, 1, 1));
            return SamplerState.startFromImage(plan, probe, (shape, m) -> m.zeros(shape), scratch).totalSteps();
        }
    }

    /** The second pass's request: the target size, the hires steps, sampler and prompts (else the request's). */
    private static GenerationRequest secondPass(GenerationRequest request, HiresFix.Target target) {
        HiresFix hires = request.hiresFix();
        int steps = hires.secondPassSteps() > 0 ? hires.secondPassSteps() : request.steps();
        var sampler = hires.sampler() != null ? hires.sampler() : request.sampler();
        return GenerationRequest.builder(hires.prompt().isEmpty() ? request.prompt() : hires.prompt())
                .negativePrompt(hires.negativePrompt().isEmpty() ? request.negativePrompt() : hires.negativePrompt())
                .sampler(sampler).steps(steps).guidanceScale(request.guidanceScale()).guidanceRescale(request.guidanceRescale())
                .clipSkip(request.clipSkip()).seed(request.seed()).size(target.width(), target.height())
                .batchSize(request.batchSize()).eta(sampler == daguerre.diffusion.sampling.Sampler.DDIM ? request.eta() : 0)
                .cacheInterval(Math.min(request.cacheInterval(), steps)).loras(request.loras()).build();
    }

    /**
     * The first pass's latents at the target size, in {@code job}: a latent upscaler resamples them; a
     * pixel one gets each decoded image, and the upscaled images are encoded again (a VAE sample, its
     * noise drawn from {@code noise}); then the central crop of the target's size (A1111's truncation).
     */
    private NDArray upscale(NDArray latents, Upscaler upscaler, HiresFix.Target target, NoiseSource noise, NDManager job) {
        int factor = model.vaeScaleFactor();
        NDArray up;
        if (upscaler instanceof Upscaler.Latent latent) {
            up = latent.upscale(latents, target.upscaledHeight() / factor, target.upscaledWidth() / factor);
            up.attach(job);
        } else {
            Upscaler.Pixel pixel = (Upscaler.Pixel) upscaler;
            NDList images = new NDList();
            for (int i = 0; i < latents.getShape().get(0); i++) {
                BufferedImage image = pixel.upscale(decode(latents.get(i).expandDims(0)), target.upscaledWidth(), target.upscaledHeight());
                images.add(ImageTensors.fromImage(job, image));
            }
            NDArray pixels = NDArrays.concat(images, 0); // [B, 3, H', W']
            NDArray sampleNoise = noise.next(new Shape(pixels.getShape().get(0), latents.getShape().get(1),
                    target.upscaledHeight() / factor, target.upscaledWidth() / factor), job);
            up = Scopes.scoped(() -> {
                LatentDistribution posterior = model.vae().encode(pixels, vaeTiling);
                return posterior.sample(sampleNoise).mul(model.vae().config().scalingFactor());
            }, pixels, sampleNoise);
            up.attach(job);
        }
        int cutY = (target.upscaledHeight() - target.height()) / factor;
        int cutX = (target.upscaledWidth() - target.width()) / factor;
        if (cutX == 0 && cutY == 0) {
            return up;
        }
        long h = up.getShape().get(2);
        long w = up.getShape().get(3);
        NDArray cropped = up.get(new NDIndex(":, :, {}:{}, {}:{}", cutY / 2, h - (cutY + 1) / 2, cutX / 2, w - (cutX + 1) / 2)).duplicate();
        cropped.attach(job);
        return cropped;
    }

    private GenerationJob start(GenerationRequest request, NoiseSource noise, GenerationListener listener,
                                BooleanSupplier cancelled, BooleanSupplier finishEarly, NDArray initLatents, double initStrength) {
        int width = request.width() > 0 ? request.width() : model.defaultImageSize();
        int height = request.height() > 0 ? request.height() : model.defaultImageSize();
        checkSize(width, height);
        checkClipSkip(request.clipSkip());
        NDManager manager = model.manager().newSubManager();
        try {
            // 0. The request's LoRAs, run beside the layers (the model's weights never change), and the
            //    textual-inversion embeddings its prompts may use.
            JobNetworks networks = JobNetworks.prepare(request, model, loras, embeddings, manager);

            // 1. Encode the prompt (and the negative prompt for classifier-free guidance).
            UNetConditioning conditioning = LowRankBranches.during(RuntimeLoras.textEncoderBranches(networks.loraUses(), manager),
                    () -> conditioning(request, width, height, networks.inversions(), manager));

            // 2. Initial latents: pure noise, or the encoded init image noised to the first timestep.
            SamplingPlan plan = SamplingPlan.of(request.sampler(), model.scheduler(), request.steps()).withEta(request.eta());
            int factor = model.vaeScaleFactor();
            Shape latentShape = new Shape(request.batchSize(), model.vae().config().latentChannels(),
                    height / factor, width / factor);
            InpaintMasks.Prepared inpainting = request.isInpainting()
                    ? InpaintMasks.prepare(request.initImage(), request.inpaint(), width, height) : null;
            boolean maskInput = takesMask();
            NDArray[] extra = new NDArray[1];
            SamplerState state;
            if (inpainting != null) {
                state = Cancellation.whileChecking(cancelled, () -> startInpainting(request, inpainting,
                        plan.withStrength(request.strength()), latentShape, noise, maskInput, extra, manager));
            } else {
                if (initLatents != null) {
                    state = SamplerState.startFromImage(plan.withStrength(initStrength), initLatents, noise, manager);
                } else {
                    state = request.isImageToImage()
                            ? SamplerState.startFromImage(plan.withStrength(request.strength()), Cancellation.whileChecking(cancelled,
                                    () -> encodeImage(request.initImage(), width, height, latentShape, noise, manager)), noise, manager)
                            : SamplerState.start(plan, latentShape, noise, manager);
                }
                if (maskInput) {
                    // an inpainting U-Net without a mask repaints everything: mask 1, masked image all mid-grey (A1111's conditioning)
                    NDArray grey = manager.zeros(new Shape(1, 3, height, width));
                    NDArray masked = Cancellation.whileChecking(cancelled, () -> encodePixels(grey, latentShape, noise, manager));
                    extra[0] = manager.ones(new Shape(latentShape.get(0), 1, latentShape.get(2), latentShape.get(3))).concat(masked, 1);
                }
            }
            GenerationJob job = new GenerationJob(request, width, height, noise, manager, state, conditioning, networks,
                    listener, cancelled, finishEarly);
            job.unetExtraChannels = extra[0];
            job.inpainting = inpainting;
            return job;
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * 3. One denoising step for each job, in shared U-Net calls: the jobs' model inputs (doubled for
     * guided jobs), per-row timesteps and contexts are stacked along the batch axis; each job then
     * applies its own guidance and sampler update, and its listener hears of the step. All jobs must
     * have the same {@link GenerationJob#batchKey()} and not be finished.
     *
     * <p>With step caching ({@link GenerationRequest#cacheInterval()}), jobs at a full step and jobs at
     * a cached step cannot share one call: the full-step jobs share one full pass (which also keeps
     * the deep features of the jobs that cache, split per job), the cached-step jobs one shallow pass
     * on their own deep features stacked along the batch axis in the same row order. Jobs without
     * caching always take the full pass, with exactly the operations of an uncached run.
     *
     * @return the U-Net calls made: 1, or 2 when jobs at full and at cached steps met
     */
    public int step(List<GenerationJob> jobs) {
        GenerationJob.BatchKey key = jobs.get(0).batchKey();
        for (GenerationJob job : jobs) {
            if (!job.batchKey().equals(key)) {
                throw new IllegalArgumentException("jobs of different shapes cannot share a U-Net call: " + key + " vs " + job.batchKey());
            }
        }
        // decided before any job advances (advancing changes the step count)
        List<GenerationJob> full = jobs.stream().filter(job -> !job.shallowStep()).toList();
        List<GenerationJob> shallow = jobs.stream().filter(GenerationJob::shallowStep).toList();
        int calls = 0;
        try (NDManager step = model.manager().newSubManager()) {
            if (!full.isEmpty()) {
                unetStep(full, false, step);
                calls++;
            }
            if (!shallow.isEmpty()) {
                unetStep(shallow, true, step);
                calls++;
            }
        }
        boolean previewable = LatentPreview.supports(model.vae().config().latentChannels());
        for (GenerationJob job : jobs) {
            job.listener.onStep(job.state.stepsTaken(), job.state.totalSteps(),
                    () -> previewable ? LatentPreview.render(job.state.denoised()) : List.of());
        }
        return calls;
    }

    /**
     * One U-Net call for {@code jobs}, all at a full step or all at a cached ({@code shallow}) step,
     * and each job's guidance and sampler update on its rows.
     */
    private void unetStep(List<GenerationJob> jobs, boolean shallow, NDManager step) {
        NDList inputs = new NDList();
        List<UNetConditioning> conditionings = new ArrayList<>();
        float[] timesteps = new float[jobs.stream().mapToInt(GenerationJob::rows).sum()];
        int row = 0;
        for (GenerationJob job : jobs) {
            ModelCall call = job.state.modelCall(step);
            NDArray input = job.unetInput(call.input()); // [B, C, h, w] (inpainting U-Nets: [B, C + 1 + C, h, w])
            inputs.add(input);
            if (job.guided()) {
                inputs.add(input); // twice: unconditional rows, then conditional rows
            }
            conditionings.add(job.conditioning);
            Arrays.fill(timesteps, row, row + job.rows(), (float) call.timestep());
            row += job.rows();
        }
        NDList all = new NDList(inputs);
        UNetConditioning stacked = stack(conditionings, step);
        all.add(stacked.context());
        if (stacked.hasTextTime()) {
            all.add(stacked.textEmbeds());
            all.add(stacked.timeIds());
        }
        // cached step: each job's deep features [rows_j, C, h, w] stacked to [rows, C, h, w], rows in the inputs' order
        NDArray deep = shallow ? stackDeepFeatures(jobs, step) : null;
        if (deep != null) {
            all.add(deep);
        }
        boolean keepDeep = !shallow && jobs.stream().anyMatch(job -> job.request.cachesSteps());
        UNet2DConditionModel unet = model.unet();
        // each job's LoRAs on its own rows only
        Map<Parameter, List<LowRankBranch>> branches = RuntimeLoras.unetBranches(jobs.stream()
                .map(job -> new RuntimeLoras.Rows(job.rows(), job.loraUses())).toList(), step);
        // a shared call stops part-way only when every job in it has been cancelled
        NDList output = Cancellation.whileChecking(() -> jobs.stream().allMatch(GenerationJob::isCancelled),
                () -> LowRankBranches.during(branches, () -> Scopes.scopedList(() -> {
                    NDArray x = NDArrays.concat(inputs, 0);
                    if (shallow) {
                        return new NDList(unet.forwardShallow(x, timesteps, stacked, new UNet2DConditionModel.DeepFeatures(deep)));
                    }
                    if (keepDeep) {
                        UNet2DConditionModel.CachingOutput out = unet.forwardKeepingDeepFeatures(x, timesteps, stacked);
                        return new NDList(out.output(), out.deep().features());
                    }
                    return new NDList(unet.forward(x, timesteps, stacked));
                }, all.toArray(new NDArray[0])))); // [rows, C, h, w] (and the deep features [rows, C', h, w])
        int start = 0;
        for (GenerationJob job : jobs) {
            NDIndex own = new NDIndex("{}:{}", start, start + job.rows());
            NDArray rows = output.get(0).get(own);
            start += job.rows();
            if (keepDeep && job.request.cachesSteps()) {
                // a copy of the job's own rows: a view would keep the whole call's features alive
                NDArray features = jobs.size() == 1 ? output.get(1) : output.get(1).get(own).duplicate();
                job.keepDeepFeatures(features);
            }
            job.state.advance(job.guided()
                    ? ClassifierFreeGuidance.combine(rows, job.request.guidanceScale(), job.request.guidanceRescale())
                    : rows);
        }
    }

    /** The cached-step jobs' deep features stacked along the batch axis, in the step's manager. */
    private static NDArray stackDeepFeatures(List<GenerationJob> jobs, NDManager step) {
        if (jobs.size() == 1) {
            return jobs.get(0).deepFeatures().features();
        }
        NDList features = new NDList();
        jobs.forEach(job -> features.add(job.deepFeatures().features()));
        NDArray stacked = NDArrays.concat(features, 0);
        stacked.attach(step);
        return stacked;
    }

    /**
     * 4. Decodes a finished job, each image on its own (bounded memory; the same result at any batch
     * position). A job stopped early is decoded from its latest denoised estimate x0 (as A1111 does
     * on interrupt), or from its latents when no step ran yet.
     */
    public List<GeneratedImage> finish(GenerationJob job) {
        return Cancellation.whileChecking(job.cancelled, () -> decodeAll(job));
    }

    /** The images as the U-Net made them, without the paste-back of the original outside an inpainting mask (for parity with diffusers). */
    List<GeneratedImage> finishWithoutOverlay(GenerationJob job) {
        return Cancellation.whileChecking(job.cancelled, () -> decodeAll(job, false, this::infotext));
    }

    private Infotext infotext(GenerationJob job, long seed) {
        if (job.hiresOf != null) {
            HiresPlan h = job.hiresOf;
            return infotext(h.request(), job.networks, seed, h.width(), h.height(), null, h);
        }
        return infotext(job.request, job.networks, seed, job.width, job.height, job.inpainting, null);
    }

    private List<GeneratedImage> decodeAll(GenerationJob job) {
        return decodeAll(job, true, this::infotext);
    }

    private List<GeneratedImage> decodeAll(GenerationJob job, boolean overlay,
                                           java.util.function.BiFunction<GenerationJob, Long, Infotext> infotext) {
        NDArray latents = job.isFinished() ? job.state.result()
                : job.state.denoised() != null ? job.state.denoised() : job.state.latents();
        long[] seeds = job.noise instanceof SeededNoise seeded ? seeded.seeds() : null;
        List<GeneratedImage> images = new ArrayList<>();
        for (int i = 0; i < job.request.batchSize(); i++) {
            long seed = seeds != null ? seeds[i] : job.request.seed() + i;
            BufferedImage image = decode(latents.get(i).expandDims(0));
            if (job.inpainting != null && overlay) {
                image = InpaintMasks.overlay(job.inpainting, image);
            }
            images.add(new GeneratedImage(image, seed, infotext.apply(job, seed)));
        }
        return images;
    }

    /**
     * The jobs' conditionings stacked along the batch axis, in the step's manager (the jobs' rows in
     * order). A concatenation lands in its first operand's manager, a job's: it is moved to the
     * step's, or every shared step would leave a stacked copy in that job's manager until it ends.
     */
    private static UNetConditioning stack(List<UNetConditioning> conditionings, NDManager step) {
        if (conditionings.size() == 1) {
            return conditionings.get(0);
        }
        NDList contexts = new NDList();
        NDList textEmbeds = new NDList();
        NDList timeIds = new NDList();
        for (UNetConditioning c : conditionings) {
            contexts.add(c.context());
            if (c.hasTextTime()) {
                textEmbeds.add(c.textEmbeds());
                timeIds.add(c.timeIds());
            }
        }
        UNetConditioning stacked = textEmbeds.isEmpty() ? UNetConditioning.of(NDArrays.concat(contexts, 0))
                : new UNetConditioning(NDArrays.concat(contexts, 0), NDArrays.concat(textEmbeds, 0), NDArrays.concat(timeIds, 0));
        stacked.context().attach(step);
        if (stacked.hasTextTime()) {
            stacked.textEmbeds().attach(step);
            stacked.timeIds().attach(step);
        }
        return stacked;
    }

    /**
     * The U-Net's conditioning for a {@code width} x {@code height} request: text contexts [2B, 77k, D]
     * (unconditional rows first) with guidance, else [B, 77k, D]; for SDXL also the pooled embeddings
     * [2B or B, P] and the micro-conditioning time ids [2B or B, 6] in the same row order.
     */
    private UNetConditioning conditioning(GenerationRequest request, int width, int height,
                                          TextualInversionLibrary.ForModel inversions, NDManager manager) {
        PromptEncoder.Options options = PromptEncoder.Options.DEFAULTS.withClipSkip(request.clipSkip());
        int batch = request.batchSize();
        boolean guided = request.guidanceScale() > 1;
        // the text the tokenizer sees: without the LoRA tags (A1111 removes them before parsing emphasis)
        String prompt = LoraTags.strip(request.prompt());
        String negativePrompt = LoraTags.strip(request.negativePrompt());
        if (!model.isSdxl()) {
            PromptEncoder encoder = new PromptEncoder(model.tokenizer(), model.textEncoder(), options, inversions.first());
            if (!guided) {
                return UNetConditioning.of(encoder.encode(prompt, manager).repeat(0, batch));
            }
            List<NDArray> pair = encoder.encodeSameLength(List.of(negativePrompt, prompt), manager);
            return UNetConditioning.of(pair.get(0).repeat(0, batch).concat(pair.get(1).repeat(0, batch), 0));
        }
        SdxlPromptEncoder encoder = new SdxlPromptEncoder(model.sdxlTextEncoders(), options,
                model.secondTextEncoder().orElseThrow().forceZerosForEmptyPrompt(), inversions.first(), inversions.second());
        NDArray timeIds = request.microConditioningFor(width, height).timeIds(batch, manager);
        if (!guided) {
            SdxlPromptEncoder.Embeddings positive = encoder.encode(prompt, manager);
            return new UNetConditioning(positive.promptEmbeds().repeat(0, batch), positive.pooledPromptEmbeds().repeat(0, batch), timeIds);
        }
        List<SdxlPromptEncoder.Embeddings> pair = encoder.encodeWithNegative(prompt, negativePrompt, manager);
        SdxlPromptEncoder.Embeddings positive = pair.get(0);
        SdxlPromptEncoder.Embeddings negative = pair.get(1);
        NDArray negativeTimeIds = request.negativeMicroConditioningFor(width, height).timeIds(batch, manager);
        return new UNetConditioning(
                negative.promptEmbeds().repeat(0, batch).concat(positive.promptEmbeds().repeat(0, batch), 0),
                negative.pooledPromptEmbeds().repeat(0, batch).concat(positive.pooledPromptEmbeds().repeat(0, batch), 0),
                negativeTimeIds.concat(timeIds, 0));
    }

    /** Whether the U-Net takes a mask and masked-image latents after the latents (in_channels 2C + 1: SD inpainting models). */
    boolean takesMask() {
        int latent = model.vae().config().latentChannels();
        int in = model.unet().config().inChannels();
        if (in != latent && in != 2 * latent + 1) {
            throw new IllegalStateException("a U-Net with " + in + " input channels fits neither " + latent
                    + " latent channels nor an inpainting layout (" + (2 * latent + 1) + ")");
        }
        return in == 2 * latent + 1;
    }

    /**
     * Inpainting's latents, as diffusers' inpaint pipeline draws them: (strength below 1 or a U-Net
     * without mask input) the image latents, a VAE sample; the initial noise; (mask input) the masked
     * image's latents, another VAE sample. Mask latents: the binary mask at every {@code factor}-th
     * pixel (F.interpolate 'nearest'). A U-Net without mask input gets diffusers' legacy blending.
     */
    private SamplerState startInpainting(GenerationRequest request, InpaintMasks.Prepared prepared, SamplingPlan plan,
                                         Shape latentShape, NoiseSource noise, boolean maskInput, NDArray[] extra, NDManager job) {
        int batch = (int) latentShape.get(0);
        int h = (int) latentShape.get(2);
        int w = (int) latentShape.get(3);
        int width = prepared.content().getWidth();
        int factor = model.vaeScaleFactor();
        float[] latentMask = new float[h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                latentMask[y * w + x] = prepared.binary()[(y * factor) * width + x * factor];
            }
        }
        NDArray mask = job.create(latentMask, new Shape(1, 1, h, w)).repeat(0, batch); // [B, 1, h, w], 1 = repaint
        NDArray pixels = ImageTensors.fromImage(job, prepared.content()); // [1, 3, H, W]
        NDArray imageLatents = null;
        if (plan.strength() < 1 || !maskInput) {
            imageLatents = encodePixels(pixels, latentShape, noise, job);
            InpaintOptions.Fill fill = request.inpaint().fill();
            if (fill == InpaintOptions.Fill.LATENT_NOISE) {
                imageLatents = imageLatents.mul(mask.neg().add(1)).add(noise.next(latentShape, job).mul(mask));
            } else if (fill == InpaintOptions.Fill.LATENT_NOTHING) {
                imageLatents = imageLatents.mul(mask.neg().add(1));
            }
        }
        NDArray unitNoise = noise.next(latentShape, job);
        if (maskInput) {
            NDArray keep = job.create(prepared.binary(), new Shape(1, 1, pixels.getShape().get(2), pixels.getShape().get(3)))
                    .neg().add(1);
            NDArray maskedLatents = encodePixels(pixels.mul(keep), latentShape, noise, job); // repaint area mid-grey (0)
            extra[0] = mask.concat(maskedLatents, 1);
        }
        SamplerState state = SamplerState.startWithNoise(plan, imageLatents, unitNoise, noise, job);
        if (!maskInput) {
            state.blendOutsideMask(mask.neg().add(1), imageLatents, unitNoise);
        }
        return state;
    }

    /** Image-to-image: VAE posterior sample of the init image, scaled, one row per batch image. */
    private NDArray encodeImage(BufferedImage image, int width, int height, Shape latentShape, NoiseSource noise,
                                NDManager job) {
        BufferedImage sized = image.getWidth() == width && image.getHeight() == height ? image : resize(image, width, height);
        return encodePixels(ImageTensors.fromImage(job, sized), latentShape, noise, job); // [1, 3, H, W] in [-1, 1]
    }

    /** VAE posterior sample of {@code pixels} [1, 3, H, W] in [-1, 1], scaled, one row per batch image (its noise drawn now). */
    private NDArray encodePixels(NDArray pixels, Shape latentShape, NoiseSource noise, NDManager job) {
        NDArray sampleNoise = noise.next(latentShape, job);
        return Scopes.scoped(() -> {
            LatentDistribution posterior = model.vae().encode(pixels, vaeTiling);
            NDArray mean = posterior.mean().repeat(0, latentShape.get(0));
            NDArray logvar = posterior.logvar().repeat(0, latentShape.get(0));
            return new LatentDistribution(mean, logvar).sample(sampleNoise).mul(model.vae().config().scalingFactor());
        }, pixels, sampleNoise);
    }

    private BufferedImage decode(NDArray latent) {
        try (NDManager scope = latent.getManager().newSubManager()) {
            NDArray pixels = Scopes.scoped(() -> model.vae().decode(latent.div(model.vae().config().scalingFactor()), vaeTiling), latent);
            pixels.attach(scope);
            return ImageTensors.toImages(pixels).get(0);
        }
    }

    /**
     * A1111's infotext: the base fields, then (as A1111 appends its extra parameters) the inpainting
     * fields for {@code inpainting} and the hires fields for a hires-fix {@code request} run as {@code hires}.
     */
    private Infotext infotext(GenerationRequest request, JobNetworks networks, long seed, int width,
                              int height, InpaintMasks.Prepared inpainting, HiresPlan hires) {
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
        } else if (hires != null) {
            params.put("Denoising strength", Infotext.number(request.hiresFix().denoisingStrength()));
        }
        if (request.clipSkip() > 1) {
            params.put("Clip skip", Integer.toString(request.clipSkip()));
        }
        if (inpainting != null) {   // as A1111's StableDiffusionProcessingImg2Img.init writes them, in its order
            InpaintOptions o = request.inpaint();
            if (o.invert()) {
                params.put("Mask mode", "Inpaint not masked");
            }
            if (o.maskBlur() > 0) {
                params.put("Mask blur", Integer.toString(o.maskBlur()));
            }
            if (inpainting.fullRes()) {
                params.put("Inpaint area", "Only masked");
                params.put("Masked area padding", Integer.toString(o.fullResPadding()));
            }
            if (o.fill() != InpaintOptions.Fill.ORIGINAL) {
                params.put("Masked content", o.fill().a1111Name());
            }
        }
        if (hires != null) {
            HiresFix h = request.hiresFix();
            if (h.resizes()) {
                params.put("Hires resize", h.resizeX() + "x" + h.resizeY());
            } else {
                params.put("Hires upscale", Infotext.number(h.scale()));
            }
            if (h.secondPassSteps() > 0) {
                params.put("Hires steps", Integer.toString(h.secondPassSteps()));
            }
            params.put("Hires upscaler", hires.upscaler().name());
            if (h.sampler() != null && h.sampler() != request.sampler()) {
                params.put("Hires sampler", h.sampler().a1111Name());
            }
            if (!h.prompt().isEmpty() && !h.prompt().equals(request.prompt())) {
                params.put("Hires prompt", h.prompt());
            }
            if (!h.negativePrompt().isEmpty() && !h.negativePrompt().equals(request.negativePrompt())) {
                params.put("Hires negative prompt", h.negativePrompt());
            }
        }
        if (request.guidanceRescale() > 0) {
            params.put("Guidance rescale", Infotext.number(request.guidanceRescale()));
        }
        if (request.eta() > 0) {
            params.put("Eta DDIM", Infotext.number(request.eta()));
        }
        if (request.cachesSteps()) {
            params.put("Cache interval", Integer.toString(request.cacheInterval()));
        }
        networks.infotext(params);
        if (model.isSdxl()) {   // SDXL's micro-conditioning, where it is not the default for this size
            microConditioning(params, "", request.microConditioningFor(width, height), width, height);
            if (request.negativeMicroConditioning() != null) {
                microConditioning(params, "Negative ", request.negativeMicroConditioningFor(width, height), width, height);
            }
        }
        // the LoRAs asked for apart from the tags go into the prompt as tags, so that A1111's "reuse" runs them too
        String prompt = request.prompt();
        for (RequestedLora lora : request.loras()) {
            prompt = prompt + (prompt.isEmpty() ? "" : " ") + lora.tag();
        }
        return new Infotext(prompt, request.negativePrompt(), params);
    }

    /**
     * {@code Original size: WxH}, {@code Crop top: T, Crop left: L}, {@code Target size: WxH} (after
     * {@code prefix}), each only when not the default.
     */
    private static void microConditioning(Map<String, String> params, String prefix, MicroConditioning m, int width, int height) {
        if (m.originalWidth() != width || m.originalHeight() != height) {
            params.put(prefix + "Original size", m.originalWidth() + "x" + m.originalHeight());
        }
        if (m.cropTop() != 0 || m.cropLeft() != 0) {
            params.put(prefix + "Crop top", Integer.toString(m.cropTop()));
            params.put(prefix + "Crop left", Integer.toString(m.cropLeft()));
        }
        if (m.targetWidth() != width || m.targetHeight() != height) {
            params.put(prefix + "Target size", m.targetWidth() + "x" + m.targetHeight());
        }
    }

    private void checkClipSkip(int clipSkip) {
        int layers = model.textEncoderLayers();
        if (clipSkip > layers) {
            throw new InvalidRequestException("clip_skip", "clip_skip must be between 1 and " + layers
                    + " (this model's text encoder layers), got " + clipSkip);
        }
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
