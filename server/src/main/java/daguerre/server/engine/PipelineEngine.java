package daguerre.server.engine;

import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.pipeline.StepBatcher;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.jobs.EmbeddingDescriptor;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelCard;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;

/**
 * The service's {@link ImageEngine} on Daguerre's own pipeline: one loaded model per
 * {@code --model}. With more than one concurrent job, each model has a {@link StepBatcher}: jobs
 * of the same size share U-Net steps.
 */
public final class PipelineEngine implements ImageEngine {

    /** The most U-Net rows in one shared step (a guided image takes two). */
    public static final int MAX_BATCH_ROWS = 16;

    private final Map<String, StableDiffusionPipeline> pipelines;
    private final LoraLibrary loraLibrary;
    private final TextualInversionLibrary embeddingLibrary;
    private final Map<String, StepBatcher> batchers = new LinkedHashMap<>();
    private final int concurrentJobs;
    private final List<ModelDescriptor> models;
    private final List<SamplerDescriptor> samplers = Arrays.stream(Sampler.values())
            .map(s -> new SamplerDescriptor(s.apiName(), s.a1111Name())).toList();

    private PipelineEngine(Map<String, StableDiffusionPipeline> pipelines, LoraLibrary loraLibrary,
                           TextualInversionLibrary embeddingLibrary, int concurrentJobs) {
        this.pipelines = pipelines;
        this.loraLibrary = loraLibrary;
        this.embeddingLibrary = embeddingLibrary;
        this.concurrentJobs = concurrentJobs;
        this.models = pipelines.values().stream().map(p -> describe(p.model())).toList();
        if (concurrentJobs > 1) {
            pipelines.forEach((id, pipeline) -> batchers.put(id, new StepBatcher(pipeline, MAX_BATCH_ROWS, "daguerre-steps-" + id)));
        }
    }

    /**
     * Loads every model (none given: Daguerre's default model); ids (folder or file name without
     * extension) must be unique.
     *
     * @param concurrentJobs jobs run at once (1: one at a time, no step sharing)
     */
    public static PipelineEngine load(List<Path> modelPaths, ModelHasher hasher, int concurrentJobs) throws IOException {
        return load(modelPaths, hasher, concurrentJobs, WeightPrecision.AS_STORED);
    }

    /** As {@link #load(List, ModelHasher, int)}, keeping the weights in {@code precision}. */
    public static PipelineEngine load(List<Path> modelPaths, ModelHasher hasher, int concurrentJobs, WeightPrecision precision)
            throws IOException {
        return load(modelPaths, hasher, concurrentJobs, precision, VaeTiling.AUTO);
    }

    /**
     * As {@link #load(List, ModelHasher, int, WeightPrecision)}, every model's VAE passes tiling as
     * {@code vaeTiling} says.
     */
    public static PipelineEngine load(List<Path> modelPaths, ModelHasher hasher, int concurrentJobs, WeightPrecision precision,
                                      VaeTiling vaeTiling)
            throws IOException {
        return load(modelPaths, hasher, concurrentJobs, precision, vaeTiling, null, null);
    }

    /**
     * As {@link #load(List, ModelHasher, int, WeightPrecision, VaeTiling)}, requests' LoRAs coming from
     * {@code loraLibrary} and their prompts' textual-inversion embeddings from {@code embeddingLibrary}
     * (null: none), with float32 products.
     */
    public static PipelineEngine load(List<Path> modelPaths, ModelHasher hasher, int concurrentJobs, WeightPrecision precision,
                                      VaeTiling vaeTiling, LoraLibrary loraLibrary, TextualInversionLibrary embeddingLibrary)
            throws IOException {
        return load(modelPaths, hasher, concurrentJobs, precision, ComputePrecision.FLOAT32, vaeTiling, loraLibrary, embeddingLibrary);
    }

    /**
     * As {@link #load(List, ModelHasher, int, WeightPrecision, VaeTiling, LoraLibrary, TextualInversionLibrary)},
     * every model's matrix products in {@code compute} as {@link StableDiffusionModel#useComputePrecision}
     * resolves it for that model (the service passes {@code --compute-dtype}, default auto).
     */
    public static PipelineEngine load(List<Path> modelPaths, ModelHasher hasher, int concurrentJobs, WeightPrecision precision,
                                      ComputePrecision compute, VaeTiling vaeTiling, LoraLibrary loraLibrary,
                                      TextualInversionLibrary embeddingLibrary)
            throws IOException {
        if (concurrentJobs < 1) {
            throw new IllegalArgumentException("concurrent jobs must be at least 1, got " + concurrentJobs);
        }
        if (modelPaths.isEmpty()) {
            modelPaths = List.of(DefaultModel.locate().orElseThrow(() -> new IllegalArgumentException(
                    "this build ships no default model: pass --model PATH (a diffusers folder or a .safetensors file)")));
        }
        Map<String, StableDiffusionPipeline> pipelines = new LinkedHashMap<>();
        try {
            for (Path path : modelPaths) {
                StableDiffusionModel model = StableDiffusionModel.load(path, null, hasher, precision);
                model.useComputePrecision(compute);
                if (pipelines.containsKey(model.id())) {
                    model.close();
                    throw new IllegalArgumentException("two models have the id '" + model.id() + "'; rename one of " + modelPaths);
                }
                pipelines.put(model.id(), new StableDiffusionPipeline(model, vaeTiling, loraLibrary, embeddingLibrary));
            }
        } catch (IOException | RuntimeException e) {
            pipelines.values().forEach(p -> p.model().close());
            throw e;
        }
        DjlRuntime.releaseFreedNativeMemory();   // the loaders' freed temporaries, kept by malloc, go back to the system
        return new PipelineEngine(pipelines, loraLibrary, embeddingLibrary, concurrentJobs);
    }

    private static ModelDescriptor describe(StableDiffusionModel model) {
        int size = model.defaultImageSize();
        String prediction = model.scheduler().predictionType().configName();
        String description = model.card().map(ModelCard::description).filter(d -> !d.isEmpty())
                .orElse((model.isSdxl() ? "SDXL" : "Stable Diffusion") + " model (" + prediction + " prediction, " + size + " px)");
        return new ModelDescriptor(model.id(), model.id(), model.hash(), size, size, description, model.card().orElse(null),
                model.textEncoderLayers(), model.isSdxl() ? ModelDescriptor.SDXL : ModelDescriptor.SD);
    }

    /** The pipeline of model {@code modelId}, or null. */
    public StableDiffusionPipeline pipeline(String modelId) {
        return pipelines.get(modelId);
    }

    @Override
    public List<ModelDescriptor> models() {
        return models;
    }

    @Override
    public String defaultModelId() {
        return models.get(0).id();
    }

    @Override
    public List<SamplerDescriptor> samplers() {
        return samplers;
    }

    @Override
    public int promptChunks(String modelId, String prompt) {
        StableDiffusionPipeline pipeline = pipelines.get(modelId);
        if (pipeline == null) {
            throw new IllegalArgumentException("unknown model '" + modelId + "'");
        }
        // the pipeline encodes with A1111's defaults (clip skip does not change the chunks); SDXL's two
        // tokenizers may cut a prompt differently (on '!'), and the longer cut is what runs
        StableDiffusionModel model = pipeline.model();
        int chunks = PromptEncoder.chunk(model.tokenizer(), PromptEncoder.Options.DEFAULTS, prompt).chunks().size();
        if (model.isSdxl()) {
            chunks = Math.max(chunks, PromptEncoder.chunk(model.secondTextEncoder().orElseThrow().tokenizer(),
                    PromptEncoder.Options.DEFAULTS, prompt).chunks().size());
        }
        return chunks;
    }

    @Override
    public List<LoraDescriptor> loras() {
        if (loraLibrary == null) {
            return List.of();
        }
        List<LoraDescriptor> loras = new ArrayList<>();
        for (LoraLibrary.Entry e : loraLibrary.list()) {
            Map<String, String> metadata;
            try {
                metadata = LoraLibrary.metadata(e.path());
            } catch (IOException | RuntimeException unreadable) {
                metadata = Map.of("error", "unreadable: " + unreadable.getMessage());
            }
            loras.add(new LoraDescriptor(e.name(), e.path().toString(), e.bytes(), metadata));
        }
        return loras;
    }

    @Override
    public List<EmbeddingDescriptor> embeddings(String modelId) {
        StableDiffusionPipeline pipeline = pipelines.get(modelId);
        if (embeddingLibrary == null || pipeline == null) {
            return List.of();
        }
        return embeddingLibrary.list(pipeline.model()).stream()
                .map(e -> new EmbeddingDescriptor(e.name(), e.path().toString(), e.vectors(), e.dim(), e.skippedBecause())).toList();
    }

    @Override
    public void requireLora(String name) {
        if (loraLibrary == null) {
            ImageEngine.super.requireLora(name);
        }
        try {
            loraLibrary.resolve(name);
        } catch (InvalidRequestException e) {
            throw new RequestException(400, "lora_not_found", e.getMessage(), "loras");
        }
    }

    @Override
    public int concurrentJobs() {
        return concurrentJobs;
    }

    @Override
    public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled)
            throws InterruptedException {
        return generate(params, listener, cancelled, () -> false);
    }

    @Override
    public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled,
            BooleanSupplier finishEarly) throws InterruptedException {
        StableDiffusionPipeline pipeline = pipelines.get(params.model());
        if (pipeline == null) {
            throw new IllegalArgumentException("unknown model '" + params.model() + "'");
        }
        GenerationRequest request = params.toRequest(params.initImage() == null ? null : decode(params.initImage()));
        GenerationListener progress = (step, total, preview) ->
                listener.onStep(step, total, listener.wantsPreview(step) ? firstPreviewPng(preview.get()) : null);
        List<EngineResult.Image> images = new ArrayList<>();
        StepBatcher batcher = batchers.get(params.model());
        List<GeneratedImage> generated = batcher != null
                ? batcher.generate(request, progress, cancelled, finishEarly)
                : pipeline.generate(request, progress, cancelled, finishEarly);
        for (GeneratedImage image : generated) {
            images.add(new EngineResult.Image(image.png(), image.seed(), image.infotext().format()));
        }
        return new EngineResult(images);
    }

    private static BufferedImage decode(byte[] png) {
        try {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            if (image == null) {
                throw new IllegalArgumentException("init_image is not a readable image");
            }
            return image;
        } catch (IOException e) {
            throw new IllegalArgumentException("init_image is not a readable image: " + e.getMessage(), e);
        }
    }

    private static byte[] firstPreviewPng(List<BufferedImage> previews) {
        if (previews.isEmpty()) {
            return null;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(previews.get(0), "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    @Override
    public void close() throws InterruptedException {
        for (StepBatcher batcher : batchers.values()) {
            batcher.close();
        }
        pipelines.values().forEach(p -> p.model().close());
    }
}
