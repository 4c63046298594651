package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.schedule.Schedule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything one sampling job carries between steps: its plan and schedule, the position in the schedule,
 * the current latents, the algorithm's history (LMS derivatives, PLMS model outputs, DPM++'s previous x0),
 * the last x0 estimate and the job's noise source. Sampler algorithms hold no state, so any number of jobs
 * can step through the same sampler, and a server can batch the model calls of several jobs between steps:
 *
 * <pre>{@code
 * while (!state.isFinished()) {
 *     ModelCall call = state.modelCall(stepManager);      // (a) what to run the model on
 *     state.advance(model.predict(call.input(), call.timestep()));   // (b) consume its raw output
 * }
 * NDArray latents = state.result();
 * }</pre>
 *
 * <p>Lifetimes: the state's arrays (latents, history) live in the job manager given at start; each step's
 * temporaries live in a sub-manager closed at the end of the step, and arrays the state no longer needs are
 * closed, so the job manager holds a bounded number of arrays however many steps run. Not thread-safe: one
 * job is stepped by one thread at a time.
 */
public final class SamplerState {

    private final SamplingPlan plan;
    private final SamplerAlgorithm algorithm;
    private final Schedule schedule;
    private final NoiseSource noise;
    private final NDManager manager;
    private final int startIndex;
    private int index;
    private NDArray latents;
    private NDArray denoised;
    private List<NDArray> history = List.of();
    private NDArray heldSample;
    /** Legacy inpainting: where the latents are kept (1) or sampled (0) [B, 1, h, w], the clean latents and the unit noise; or null. */
    private NDArray keepMask;
    private NDArray keptLatents;
    private NDArray keptNoise;

    private SamplerState(SamplingPlan plan, Schedule schedule, int startIndex, NoiseSource noise,
                         NDManager manager) {
        this.plan = plan;
        this.algorithm = plan.sampler().algorithm();
        this.schedule = schedule;
        this.startIndex = startIndex;
        this.index = startIndex;
        this.noise = noise;
        this.manager = manager;
    }

    /**
     * Starts a text-to-image job: initial latents = the first noise tensor of {@code latentShape} drawn from
     * {@code noise}, times the schedule's initial noise sigma.
     *
     * @param plan sampler, config, steps (its strength must be 1)
     * @param latentShape [B, C, h, w]
     * @param noise the job's noise source (initial latents first, then stochastic samplers' noise)
     * @param jobManager where the job's arrays live; closing it frees them
     */
    public static SamplerState start(SamplingPlan plan, Shape latentShape, NoiseSource noise, NDManager jobManager) {
        Objects.requireNonNull(noise, "noise");
        if (plan.strength() != 1) {
            throw new IllegalArgumentException(
                    "text-to-image runs the whole schedule; strength " + plan.strength() + " needs startFromImage");
        }
        Schedule schedule = plan.sampler().algorithm().schedule(plan.config(), plan.steps(), 1.0);
        SamplerState state = new SamplerState(plan, schedule, 0, noise, jobManager);
        try (NDManager temporary = jobManager.newSubManager()) {
            NDArray initial = noise.next(latentShape, temporary).mul(schedule.initNoiseSigma());
            initial.attach(jobManager);
            state.latents = initial;
        }
        return state;
    }

    /**
     * Starts an image-to-image job: the schedule is entered part-way as diffusers' img2img pipelines do
     * (start index {@code steps - min(int(steps * strength), steps)}; LCM shortens its distillation grid
     * instead), and the encoded image latents are noised to that first timestep with one noise tensor drawn
     * from {@code noise}: VP samplers sqrt(a) x0 + sqrt(1 - a) n, sigma-space samplers x0 + sigma n.
     *
     * @param imageLatents the encoded (and scaled) image latents x0 [B, C, h, w]
     * @throws IllegalArgumentException if the strength leaves no step to run
     */
    public static SamplerState startFromImage(SamplingPlan plan, NDArray imageLatents, NoiseSource noise,
                                              NDManager jobManager) {
        Objects.requireNonNull(noise, "noise");
        SamplerAlgorithm algorithm = plan.sampler().algorithm();
        Schedule schedule = algorithm.schedule(plan.config(), plan.steps(), plan.strength());
        int start = algorithm.startIndex(schedule, plan.steps(), plan.strength());
        if (start >= schedule.modelCalls()) {
            throw new IllegalArgumentException("strength " + plan.strength() + " with " + plan.steps()
                    + " steps leaves no denoising step; raise the strength or the steps");
        }
        SamplerState state = new SamplerState(plan, schedule, start, noise, jobManager);
        try (NDManager temporary = jobManager.newSubManager()) {
            temporary.tempAttachAll(imageLatents);
            NDArray unitNoise = noise.next(imageLatents.getShape(), temporary);
            NDArray noised = algorithm.addNoise(schedule, start, imageLatents, unitNoise);
            noised.attach(jobManager);
            state.latents = noised;
        }
        return state;
    }

    /**
     * Starts an inpainting job as diffusers' inpaint pipelines do, on noise the caller drew: at strength 1
     * the latents are {@code unitNoise} times the initial noise sigma (whatever the image), else
     * {@code imageLatents} noised to the first timestep with {@code unitNoise}.
     *
     * @param imageLatents the encoded (and scaled) image latents [B, C, h, w]; may be null at strength 1
     * @param unitNoise standard-normal noise of the latents' shape, kept by the caller
     */
    public static SamplerState startWithNoise(SamplingPlan plan, NDArray imageLatents, NDArray unitNoise, NoiseSource noise,
                                              NDManager jobManager) {
        Objects.requireNonNull(noise, "noise");
        SamplerAlgorithm algorithm = plan.sampler().algorithm();
        Schedule schedule = algorithm.schedule(plan.config(), plan.steps(), plan.strength());
        int start = plan.strength() == 1 ? 0 : algorithm.startIndex(schedule, plan.steps(), plan.strength());
        if (start >= schedule.modelCalls()) {
            throw new IllegalArgumentException("strength " + plan.strength() + " with " + plan.steps()
                    + " steps leaves no denoising step; raise the strength or the steps");
        }
        SamplerState state = new SamplerState(plan, schedule, start, noise, jobManager);
        try (NDManager temporary = jobManager.newSubManager()) {
            NDArray initial = plan.strength() == 1 ? unitNoise.mul(schedule.initNoiseSigma())
                    : algorithm.addNoise(schedule, start, imageLatents, unitNoise);
            initial.attach(jobManager);
            state.latents = initial;
        }
        return state;
    }

    /**
     * Legacy inpainting with a U-Net that has no mask input (diffusers' 4-channel path): after every
     * step the latents where {@code keep} is 1 are replaced by {@code imageLatents} noised with
     * {@code unitNoise} to the next call's level, and by {@code imageLatents} themselves after the last
     * step: {@code x = keep * noised(x0) + (1 - keep) * x}. The arrays must live in the job's manager.
     *
     * @param keep [B, 1, h, w]: 1 outside the area to repaint, 0 inside
     */
    public void blendOutsideMask(NDArray keep, NDArray imageLatents, NDArray unitNoise) {
        this.keepMask = Objects.requireNonNull(keep, "keep");
        this.keptLatents = Objects.requireNonNull(imageLatents, "imageLatents");
        this.keptNoise = Objects.requireNonNull(unitNoise, "unitNoise");
    }

    /** Whether every model call of the job has been made. */
    public boolean isFinished() {
        return index >= schedule.modelCalls();
    }

    /**
     * (a) The model call the current step needs: the scaled model input and the timestep. The input is a new
     * array attached to {@code callManager}; the state's latents are untouched.
     */
    public ModelCall modelCall(NDManager callManager) {
        requireRunning();
        NDArray input = algorithm.scaleModelInput(schedule, index, latents);
        input.attach(callManager);
        return new ModelCall(input, schedule.timesteps()[index]);
    }

    /**
     * (b) Consumes the raw model output (epsilon or v, per the config's prediction type) for the current
     * model call, moves the latents one step on and advances to the next call. The output array is not
     * closed or moved.
     */
    public void advance(NDArray modelOutput) {
        requireRunning();
        if (!modelOutput.getShape().equals(latents.getShape())) {
            throw new IllegalArgumentException("model output shape " + modelOutput.getShape()
                    + " does not match the latents " + latents.getShape());
        }
        List<NDArray> before = heldArrays();
        SamplerAlgorithm.StepOutput out;
        try (NDManager step = manager.newSubManager()) {
            Set<NDArray> inputs = Collections.newSetFromMap(new IdentityHashMap<>());
            inputs.addAll(before);
            inputs.add(modelOutput);
            step.tempAttachAll(inputs.toArray(new NDArray[0]));
            if (keepMask != null) {
                step.tempAttachAll(keepMask, keptLatents, keptNoise);
            }
            out = algorithm.step(new SamplerAlgorithm.StepInput(plan, schedule, index, index - startIndex, latents,
                    modelOutput, history, heldSample, noise, step));
            if (keepMask != null) {
                out = blended(out, step);
            }
            for (NDArray kept : keptArrays(out)) {
                if (kept == modelOutput) {
                    throw new IllegalStateException(plan.sampler() + " kept the caller's model output array");
                }
                if (!inputs.contains(kept)) {
                    kept.attach(manager);
                }
            }
        }
        latents = out.latents();
        denoised = out.denoised();
        history = List.copyOf(out.history());
        heldSample = out.heldSample();
        Set<NDArray> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        kept.addAll(heldArrays());
        for (NDArray old : before) {
            if (!kept.contains(old)) {
                old.close();
            }
        }
        index++;
    }

    /**
     * The job's output latents once finished: the last latents, or for LCM the last step's x0 estimate
     * (the same array in practice, made explicit here).
     */
    public NDArray result() {
        if (!isFinished()) {
            throw new IllegalStateException("the job has " + remainingCalls() + " model calls left");
        }
        return algorithm.resultIsDenoised() ? denoised : latents;
    }

    /** The current latents (sampler latent form: sigma space for Euler / Euler a / LMS, VP otherwise). */
    public NDArray latents() {
        return latents;
    }

    /** The last step's estimate of the clean latents x0 (for previews); null before the first step. */
    public NDArray denoised() {
        return denoised;
    }

    /** The job's plan. */
    public SamplingPlan plan() {
        return plan;
    }

    /** The full schedule (image-to-image jobs start at {@link #startIndex()}). */
    public Schedule schedule() {
        return schedule;
    }

    /** Index into the schedule of the next model call. */
    public int index() {
        return index;
    }

    /** Index into the schedule of the job's first model call (0 for text-to-image). */
    public int startIndex() {
        return startIndex;
    }

    /** Model calls made so far. */
    public int stepsTaken() {
        return index - startIndex;
    }

    /** Model calls this job makes in all. */
    public int totalSteps() {
        return schedule.modelCalls() - startIndex;
    }

    /** Model calls still to make. */
    public int remainingCalls() {
        return schedule.modelCalls() - index;
    }

    /** The job manager holding the state's arrays. */
    public NDManager manager() {
        return manager;
    }

    private void requireRunning() {
        if (isFinished()) {
            throw new IllegalStateException("the job has made all " + totalSteps() + " model calls");
        }
    }

    /** The step's output with the kept area put back (legacy inpainting), in the step's manager. */
    private SamplerAlgorithm.StepOutput blended(SamplerAlgorithm.StepOutput out, NDManager step) {
        boolean last = index == schedule.modelCalls() - 1;
        NDArray proper = last ? keptLatents : algorithm.addNoise(schedule, index + 1, keptLatents, keptNoise);
        NDArray sampled = keepMask.neg().add(1);
        NDArray latentsOut = keepMask.mul(proper).add(sampled.mul(out.latents()));
        latentsOut.attach(step);
        NDArray denoisedOut = out.denoised();
        if (last && algorithm.resultIsDenoised() && denoisedOut != null) {
            denoisedOut = keepMask.mul(keptLatents).add(sampled.mul(denoisedOut));
            denoisedOut.attach(step);
        }
        return new SamplerAlgorithm.StepOutput(latentsOut, denoisedOut, out.history(), out.heldSample());
    }

    /** Every array the state references now, without duplicates. */
    private List<NDArray> heldArrays() {
        Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<NDArray> arrays = new ArrayList<>();
        for (NDArray array : keptArrays(new SamplerAlgorithm.StepOutput(latents, denoised, history, heldSample))) {
            if (seen.add(array)) {
                arrays.add(array);
            }
        }
        return arrays;
    }

    private static List<NDArray> keptArrays(SamplerAlgorithm.StepOutput out) {
        List<NDArray> arrays = new ArrayList<>();
        if (out.latents() != null) {
            arrays.add(out.latents());
        }
        if (out.denoised() != null) {
            arrays.add(out.denoised());
        }
        arrays.addAll(out.history());
        if (out.heldSample() != null) {
            arrays.add(out.heldSample());
        }
        return arrays;
    }
}
