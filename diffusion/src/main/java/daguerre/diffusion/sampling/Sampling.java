package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/** The whole sampling loop for one job, on top of the per-step {@link SamplerState} API. */
public final class Sampling {

    private Sampling() {}

    /**
     * Runs the job to the end and returns {@link SamplerState#result()} (owned by the job manager).
     * Each model call runs in a sub-manager of the job manager closed after the step.
     *
     * @param listener told after every step, or null
     * @param cancelled checked before every step, or null
     * @throws CancellationException if {@code cancelled} says so between steps
     */
    public static NDArray run(SamplerState state, Denoiser model, StepListener listener, BooleanSupplier cancelled) {
        while (!state.isFinished()) {
            if (cancelled != null && cancelled.getAsBoolean()) {
                throw new CancellationException("sampling cancelled after " + state.stepsTaken() + " of "
                        + state.totalSteps() + " steps");
            }
            try (NDManager call = state.manager().newSubManager()) {
                ModelCall modelCall = state.modelCall(call);
                state.advance(model.predict(modelCall.input(), modelCall.timestep()));
            }
            if (listener != null) {
                listener.onStep(state.stepsTaken(), state.totalSteps());
            }
        }
        return state.result();
    }
}
