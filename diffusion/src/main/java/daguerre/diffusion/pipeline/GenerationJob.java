package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.lora.RuntimeLoras;
import daguerre.diffusion.sampling.NoiseSource;
import daguerre.diffusion.sampling.SamplerState;
import daguerre.diffusion.unet.UNet2DConditionModel.DeepFeatures;
import daguerre.diffusion.unet.UNetConditioning;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * One generation in progress: its encoded prompt, its sampler state and its own child manager.
 * Everything that carries over between steps lives here, so jobs can share U-Net calls
 * ({@link StableDiffusionPipeline#step}) and join or leave a batch between steps.
 */
public final class GenerationJob implements AutoCloseable {

    /**
     * What must be equal for jobs to share a U-Net call: latent shape (per row) and context length.
     */
    public record BatchKey(long channels, long height, long width, long contextTokens) {}

    final GenerationRequest request;
    final int width;
    final int height;
    final NoiseSource noise;
    final NDManager manager;
    final SamplerState state;
    /**
     * The U-Net's conditioning, one row per U-Net row: guided jobs hold [B unconditional; B conditional]
     * rows, unguided ones B conditional rows (context [rows, T, D]; SDXL also pooled [rows, P], time ids [rows, 6]).
     */
    final UNetConditioning conditioning;
    /** The job's LoRAs (factors in the job's manager, run beside the layers on its own rows) and embeddings. */
    final JobNetworks networks;
    final GenerationListener listener;
    final BooleanSupplier cancelled;
    /** Checked between steps: once true, the job stops denoising and is decoded as it stands. */
    final BooleanSupplier finishEarly;
    /**
     * Step caching: the U-Net's deep features from this job's latest full step, one row per U-Net row
     * ([rows, C, h, w], in the job's manager), or null before the first full step and without caching.
     */
    private DeepFeatures deep;
    /**
     * A 9-channel (inpainting) U-Net's extra input: mask and masked-image latents [B, 1 + C, h, w] in the
     * job's manager, concatenated after the latents on dim 1 at every call; null for 4-channel U-Nets.
     */
    NDArray unetExtraChannels;
    /** Inpainting: what the decoded images are pasted onto, and how; null when not inpainting. */
    InpaintMasks.Prepared inpainting;
    /** Hires fix: on its first pass, the plan of the second (and the caller's listener); null otherwise. */
    StableDiffusionPipeline.HiresPlan hires;
    GenerationListener hiresListener;
    /** Hires fix: on its second pass, the plan it runs (for the infotext); null otherwise. */
    StableDiffusionPipeline.HiresPlan hiresOf;

    GenerationJob(GenerationRequest request, int width, int height, NoiseSource noise, NDManager manager,
                  SamplerState state, UNetConditioning conditioning, JobNetworks networks, GenerationListener listener,
                  BooleanSupplier cancelled, BooleanSupplier finishEarly) {
        this.request = request;
        this.width = width;
        this.height = height;
        this.noise = noise;
        this.manager = manager;
        this.state = state;
        this.conditioning = conditioning;
        this.networks = networks;
        this.listener = listener;
        this.cancelled = cancelled;
        this.finishEarly = finishEarly;
    }

    /** Whether classifier-free guidance doubles this job's rows. */
    boolean guided() {
        return request.guidanceScale() > 1;
    }

    /**
     * Whether this job's next step is a cached (shallow) one: caching is on, deep features were kept,
     * and the step is not one of every {@code cache_interval}-th model calls (counted from the job's
     * first, which is always full).
     */
    boolean shallowStep() {
        return request.cachesSteps() && deep != null && state.stepsTaken() % request.cacheInterval() != 0;
    }

    /** The deep features kept at the latest full step (null if none). */
    DeepFeatures deepFeatures() {
        return deep;
    }

    /** Keeps {@code features} (its own rows, [rows, C, h, w]) for the next shallow steps, in the job's manager. */
    void keepDeepFeatures(NDArray features) {
        features.attach(manager);
        if (deep != null) {
            deep.features().close();
        }
        deep = new DeepFeatures(features);
    }

    /** The U-Net input for this job's scaled model input [B, C, h, w]: with the extra channels of an inpainting U-Net appended. */
    NDArray unetInput(NDArray modelInput) {
        return unetExtraChannels == null ? modelInput : modelInput.concat(unetExtraChannels, 1);
    }

    /** U-Net rows this job adds to a shared call. */
    /** The job's LoRAs with its weights, for the branches of a shared pass. */
    List<RuntimeLoras.Use> loraUses() {
        return networks.loraUses();
    }

    public int rows() {
        return (int) conditioning.context().getShape().get(0);
    }

    public BatchKey batchKey() {
        return new BatchKey(state.latents().getShape().get(1), state.latents().getShape().get(2),
                state.latents().getShape().get(3), conditioning.context().getShape().get(1));
    }

    public boolean isFinished() {
        return state.isFinished();
    }

    /** Whether the job was asked to stop denoising and be decoded as it stands (it then counts as done). */
    public boolean isFinishingEarly() {
        return !state.isFinished() && finishEarly.getAsBoolean();
    }

    public boolean isCancelled() {
        return cancelled.getAsBoolean();
    }

    /** Throws {@link CancellationException} when the job was cancelled. */
    public void checkCancelled() {
        if (isCancelled()) {
            throw new CancellationException("generation cancelled after " + state.stepsTaken() + " of " + state.totalSteps() + " steps");
        }
    }

    public GenerationRequest request() {
        return request;
    }

    @Override
    public void close() {
        manager.close();
    }
}
