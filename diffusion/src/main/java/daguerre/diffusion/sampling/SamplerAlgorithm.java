package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import java.util.List;

/**
 * One sampling algorithm, stateless: everything that carries over between steps comes in through
 * {@link StepInput} and goes out through {@link StepOutput}, so one instance serves every job.
 */
interface SamplerAlgorithm {

    /** The schedule for a config and step count; {@code strength} matters only to LCM's image-to-image. */
    Schedule schedule(SchedulerConfig config, int steps, double strength);

    /**
     * Index of the first model call for image-to-image, as diffusers' img2img {@code get_timesteps}:
     * {@code steps - min(int(steps * strength), steps)} (every scheduler here has order 1).
     */
    default int startIndex(Schedule schedule, int steps, double strength) {
        int initSteps = Math.min((int) (steps * strength), steps);
        return Math.max(steps - initSteps, 0);
    }

    /** The model input for call {@code index}; a new array (the VP samplers copy the latents). */
    default NDArray scaleModelInput(Schedule schedule, int index, NDArray latents) {
        return latents.duplicate();
    }

    /** Clean latents {@code x0} noised to the level of call {@code index}, in this sampler's latent form. */
    NDArray addNoise(Schedule schedule, int index, NDArray x0, NDArray noise);

    /** One step: consumes the raw model output and returns the next latents and what carries over. */
    StepOutput step(StepInput in);

    /** Whether the job's result is the last step's denoised estimate rather than its latents (LCM). */
    default boolean resultIsDenoised() {
        return false;
    }

    /**
     * Inputs of one step. Arrays created from these land in {@code manager}, the step's temporary manager.
     *
     * @param plan the job's plan
     * @param schedule the job's schedule
     * @param index index of this model call in the schedule
     * @param stepsTaken steps this job has done before this one (differs from index for image-to-image)
     * @param sample the latents the model call was made for
     * @param modelOutput raw model output (epsilon or v)
     * @param history what the algorithm kept from earlier steps, oldest first
     * @param heldSample PLMS's latents held over from its first step, or null
     * @param noise the job's noise source
     * @param manager the step's temporary manager
     */
    record StepInput(SamplingPlan plan, Schedule schedule, int index, int stepsTaken, NDArray sample,
                     NDArray modelOutput, List<NDArray> history, NDArray heldSample, NoiseSource noise,
                     NDManager manager) {

        boolean isLastCall() {
            return index == schedule.modelCalls() - 1;
        }

        NDArray nextNoise() {
            return noise.next(sample.getShape(), manager);
        }
    }

    /**
     * Result of one step: arrays taken from the input or new ones; the state keeps these and closes the
     * ones it no longer references.
     *
     * @param latents next latents
     * @param denoised this step's estimate of the clean latents x0
     * @param history what to carry to the next step, oldest first
     * @param heldSample PLMS's held latents, or null
     */
    record StepOutput(NDArray latents, NDArray denoised, List<NDArray> history, NDArray heldSample) {

        static StepOutput of(NDArray latents, NDArray denoised) {
            return new StepOutput(latents, denoised, List.of(), null);
        }
    }
}
