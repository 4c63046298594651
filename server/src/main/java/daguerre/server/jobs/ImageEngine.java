package daguerre.server.jobs;

import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The diffusion engine as the service sees it: the models and samplers it offers, and one
 * method that runs a generation job to completion. The server calls {@link #generate} only
 * from its worker threads, never from an HTTP event loop; {@link #models()},
 * {@link #defaultModelId()} and {@link #samplers()} may be called from an event loop and must
 * return at once (fixed lists made when the engine was built).
 */
public interface ImageEngine extends AutoCloseable {

    /** The models this engine can run; ids are the folder or file names without extension. */
    List<ModelDescriptor> models();

    /** The id of the model used when a request names none; one of {@link #models()}. */
    String defaultModelId();

    /**
     * The model with this id, for checking a request; called off the event loop. The default looks
     * in {@link #models()}; a cluster's api node reads the models the workers registered again
     * before it finds a model unknown.
     */
    default java.util.Optional<ModelDescriptor> findModel(String modelId) {
        return models().stream().filter(m -> m.id().equals(modelId)).findFirst();
    }

    /**
     * Whether model {@code modelId} of {@link #models()} can run now; in a cluster, whether a live
     * worker serves it (jobs for the others wait). True by default.
     */
    default boolean serves(String modelId) {
        return true;
    }

    /** The samplers this engine supports, in the order clients should list them. */
    List<SamplerDescriptor> samplers();

    /**
     * Runs one job on the calling thread and returns its images.
     *
     * <p>The engine calls {@code listener} after every denoising step. It checks
     * {@code cancelled} between steps and within them (the pipeline engine at every layer of the
     * U-Net and VAE passes, so a cancel takes effect within about one layer at any image size);
     * once it returns true, the engine stops and throws {@link java.util.concurrent.CancellationException}.
     *
     * @param params a validated request: model and sampler exist, sizes within the limits, seed resolved
     * @throws java.util.concurrent.CancellationException when stopped through {@code cancelled}
     * @throws Exception any other failure; the job fails with the exception's message
     */
    EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) throws Exception;

    /**
     * As {@link #generate(GenerationParams, StepListener, BooleanSupplier)}, and once
     * {@code finishEarly} returns true (checked between steps), the engine stops denoising and
     * returns the images as they stand (A1111 decodes its latest estimate of the clean image).
     * The default runs the job to its end: engines that can stop early override this.
     */
    default EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled,
            BooleanSupplier finishEarly) throws Exception {
        return generate(params, listener, cancelled);
    }

    /**
     * How many chunks of 75 tokens the text encoder of model {@code modelId} cuts {@code prompt}
     * into, as its prompt encoder does (emphasis brackets, {@code BREAK}, comma backtracking), with
     * the model's own tokenizer. Called at submit, from an HTTP worker thread: no tensor math. The
     * default counts with the bundled OpenAI CLIP vocabulary (the SD 1.x tokenizer).
     *
     * @param modelId one of {@link #models()}
     */
    default int promptChunks(String modelId, String prompt) {
        return BundledClipChunks.chunks(prompt);
    }

    /**
     * The LoRAs this engine can run: the files of its LoRA folder. Reads the folder (off the event
     * loop); the default has none.
     */
    default List<LoraDescriptor> loras() {
        return List.of();
    }

    /**
     * The textual-inversion embeddings of the engine's embeddings folder, each with whether model
     * {@code modelId} can use it. Reads the folder (off the event loop); the default has none.
     */
    default List<EmbeddingDescriptor> embeddings(String modelId) {
        return List.of();
    }

    /**
     * Checks at submit that {@code name} names a LoRA this engine can run (a name of {@link #loras()}
     * or a path to a {@code .safetensors} file).
     *
     * @throws RequestException 400 {@code lora_not_found}, naming what there is
     */
    default void requireLora(String name) {
        throw new RequestException(400, "lora_not_found", "LoRA '" + name + "' cannot run: this engine runs no LoRAs", "loras");
    }

    /**
     * How many jobs the service should run at once on this engine (one worker thread each); an
     * engine that batches steps across jobs benefits from more than one. The default is 1.
     */
    default int concurrentJobs() {
        return 1;
    }

    /** Releases the models; the default does nothing. */
    @Override
    default void close() throws Exception {}
}
