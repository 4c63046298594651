package daguerre.diffusion.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

class SamplerStateTest {

    private static final Shape LATENT = new Shape(1, 4, 8, 8);
    private static final SchedulerConfig CONFIG = SchedulerConfig.SD15;

    /** The analytic stand-in of the scheduler golden cases: x * 0.3 cos(t / 1000) + 0.1 sin(t / 100). */
    private static NDArray standIn(NDArray x, double t) {
        return x.mul((float) (0.3 * Math.cos(t / 1000.0))).add((float) (0.1 * Math.sin(t / 100.0)));
    }

    /**
     * Runs {@code state} to the end on the stand-in, each model call in a sub-manager closed after
     * the step (as the pipeline's step loop does), telling {@code listener} after every step.
     */
    private static NDArray runToEnd(SamplerState state, BiConsumer<Integer, Integer> listener) {
        while (!state.isFinished()) {
            try (NDManager call = state.manager().newSubManager()) {
                ModelCall modelCall = state.modelCall(call);
                state.advance(standIn(modelCall.input(), modelCall.timestep()));
            }
            if (listener != null) {
                listener.accept(state.stepsTaken(), state.totalSteps());
            }
        }
        return state.result();
    }

    @Test
    void liveArraysDoNotGrowWithTheNumberOfSteps() {
        try (NDManager base = NDManager.newBaseManager()) {
            for (Sampler sampler : Sampler.values()) {
                int steps = sampler == Sampler.LCM ? 50 : 60;
                try (NDManager job = base.newSubManager()) {
                    SamplerState state = SamplerState.start(SamplingPlan.of(sampler, CONFIG, steps), LATENT,
                            new SeededNoise(5), job);
                    List<Integer> counts = new ArrayList<>();
                    runToEnd(state, (step, total) -> counts.add(job.getManagedArrays().size()));
                    int early = counts.subList(0, 10).stream().max(Integer::compare).orElseThrow();
                    int late = counts.subList(10, counts.size()).stream().max(Integer::compare).orElseThrow();
                    assertTrue(late <= early, sampler + ": live arrays grew from " + early + " to " + late + " " + counts);
                    assertTrue(early >= 2, sampler + ": the count sees the latents and x0 " + counts);
                    assertTrue(early <= 7, sampler + ": " + early + " live arrays (latents, x0, history) " + counts);
                    assertTrue(base.getManagedArrays().size() == job.getManagedArrays().size(),
                            sampler + ": arrays left outside the job manager");
                }
                assertEquals(0, base.getManagedArrays().size(), sampler + ": closing the job frees everything");
            }
        }
    }

    @Test
    void samplersHoldNoStateSoJobsCanInterleave() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Sampler sampler : Sampler.values()) {
                float[] aloneA = runAlone(sampler, 1, manager);
                float[] aloneB = runAlone(sampler, 2, manager);
                SamplerState a = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 12), LATENT, new SeededNoise(1), manager);
                SamplerState b = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 12), LATENT, new SeededNoise(2), manager);
                while (!a.isFinished() || !b.isFinished()) {
                    for (SamplerState state : List.of(a, b)) {
                        if (!state.isFinished()) {
                            try (NDManager call = manager.newSubManager()) {
                                ModelCall modelCall = state.modelCall(call);
                                state.advance(standIn(modelCall.input(), modelCall.timestep()));
                            }
                        }
                    }
                }
                assertArrayEquals(aloneA, a.result().toFloatArray(), sampler + " job A");
                assertArrayEquals(aloneB, b.result().toFloatArray(), sampler + " job B");
            }
        }
    }

    @Test
    void imageIGetsTheSameResultWhateverItsBatch() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Sampler sampler : Sampler.values()) {
                SamplerState batch = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 8), new Shape(3, 4, 8, 8),
                        new SeededNoise(7, 8, 9), manager);
                float[] batched = runToEnd(batch, null).toFloatArray();
                SamplerState single = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 8), LATENT,
                        new SeededNoise(8), manager);
                float[] alone = runToEnd(single, null).toFloatArray();
                int row = (int) LATENT.size();
                assertArrayEquals(alone, Arrays.copyOfRange(batched, row, 2 * row), sampler.apiName());
            }
        }
    }

    @Test
    void stepsAreCountedAndAFinishedStateTakesNoMore() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SamplingPlan plan = SamplingPlan.of(Sampler.PNDM, CONFIG, 10);
            List<String> seen = new ArrayList<>();
            SamplerState state = SamplerState.start(plan, LATENT, new SeededNoise(3), manager);
            runToEnd(state, (step, total) -> seen.add(step + "/" + total));
            assertEquals(11, seen.size());
            assertEquals("1/11", seen.get(0));
            assertEquals("11/11", seen.get(10));

            SamplerState unfinished = SamplerState.start(plan, LATENT, new SeededNoise(3), manager);
            assertThrows(IllegalStateException.class, unfinished::result);
            assertThrows(IllegalStateException.class, () -> state.modelCall(manager));
            assertThrows(IllegalStateException.class, () -> state.advance(state.latents()));
        }
    }

    @Test
    void modelInputIsTheCallersToClose() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Sampler sampler : Sampler.values()) {
                SamplerState state = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 4), LATENT, new SeededNoise(1), manager);
                try (NDManager call = manager.newSubManager()) {
                    ModelCall modelCall = state.modelCall(call);
                    assertSame(call, modelCall.input().getManager());
                    NDArray output = standIn(modelCall.input(), modelCall.timestep());
                    state.advance(output);
                }
                assertEquals(LATENT, state.latents().getShape(), "latents survive the call manager");
                runToEnd(state, null);
                assertTrue(Float.isFinite(state.result().sum().getFloat()), sampler.apiName());
            }
        }
    }

    @Test
    void lcmResultIsTheLastDenoisedEstimate() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SamplerState lcm = SamplerState.start(SamplingPlan.of(Sampler.LCM, CONFIG, 4), LATENT, new SeededNoise(1), manager);
            runToEnd(lcm, null);
            assertSame(lcm.denoised(), lcm.result());
            SamplerState euler = SamplerState.start(SamplingPlan.of(Sampler.EULER, CONFIG, 4), LATENT, new SeededNoise(1), manager);
            runToEnd(euler, null);
            assertSame(euler.latents(), euler.result());
        }
    }

    @Test
    void fullStrengthImageToImageStartsLikeTextToImage() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray image = manager.ones(LATENT);
            for (Sampler sampler : Sampler.values()) {
                SamplingPlan plan = SamplingPlan.of(sampler, CONFIG, 20);
                SamplerState text = SamplerState.start(plan, LATENT, new SeededNoise(1), manager);
                SamplerState fromImage = SamplerState.startFromImage(plan, image, new SeededNoise(1), manager);
                assertEquals(0, fromImage.startIndex(), sampler.apiName());
                assertEquals(text.totalSteps(), fromImage.totalSteps(), sampler.apiName());
                assertArrayEquals(text.schedule().timesteps(), fromImage.schedule().timesteps(), sampler.apiName());
            }
        }
    }

    @Test
    void lowerStrengthRunsFewerOrLowerSteps() {
        double[] strengths = {0.1, 0.25, 0.5, 0.75, 0.9, 1.0};
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray image = manager.ones(LATENT);
            for (Sampler sampler : Sampler.values()) {
                int previousSteps = 0;
                double previousFirst = -1;
                for (double strength : strengths) {
                    SamplingPlan plan = SamplingPlan.of(sampler, CONFIG, 20).withStrength(strength);
                    if (sampler == Sampler.LCM && (int) (LcmAlgorithm.ORIGINAL_INFERENCE_STEPS * strength) < 20) {
                        // as diffusers: fewer distillation timesteps than steps is refused
                        assertThrows(IllegalArgumentException.class,
                                () -> SamplerState.startFromImage(plan, image, new SeededNoise(1), manager));
                        continue;
                    }
                    SamplerState state = SamplerState.startFromImage(plan, image, new SeededNoise(1), manager);
                    double first = state.schedule().timesteps()[state.startIndex()];
                    String what = sampler.apiName() + " strength " + strength;
                    assertTrue(state.totalSteps() >= previousSteps, what + " has fewer steps than a lower strength");
                    assertTrue(first >= previousFirst, what + " starts below a lower strength");
                    previousSteps = state.totalSteps();
                    previousFirst = first;
                    runToEnd(state, null);
                    assertTrue(Float.isFinite(state.result().sum().getFloat()), what);
                }
            }
            // diffusers' get_timesteps: int(20 * 0.5) = 10 steps; PLMS's schedule has one call more
            assertEquals(10, startFromImage(Sampler.DDIM, 0.5, image, manager).totalSteps());
            assertEquals(11, startFromImage(Sampler.PNDM, 0.5, image, manager).totalSteps());
            assertEquals(10, startFromImage(Sampler.EULER, 0.5, image, manager).totalSteps());
            // LCM shortens its distillation grid instead and keeps the step count
            SamplerState lcm = startFromImage(Sampler.LCM, 0.5, image, manager);
            assertEquals(20, lcm.totalSteps());
            assertEquals(499, lcm.schedule().timesteps()[0]);
        }
    }

    @Test
    void imageLatentsAreNoisedToTheFirstTimestep() {
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] x0 = new float[(int) LATENT.size()];
            float[] noise = new float[x0.length];
            for (int i = 0; i < x0.length; i++) {
                x0[i] = (float) Math.sin(i);
                noise[i] = (float) Math.cos(3 * i);
            }
            NDArray image = manager.create(x0, LATENT);
            for (Sampler sampler : List.of(Sampler.DDIM, Sampler.EULER, Sampler.DPMPP_2M)) {
                SamplingPlan plan = SamplingPlan.of(sampler, CONFIG, 20).withStrength(0.6);
                SamplerState state = SamplerState.startFromImage(plan, image,
                        new RecordedNoise().add("noise", noise, LATENT), manager);
                Schedule schedule = state.schedule();
                int start = state.startIndex();
                assertEquals(8, start, sampler.apiName());
                float sigma = schedule.sigmas()[start];
                float[] actual = state.latents().toFloatArray();
                for (int i = 0; i < x0.length; i++) {
                    double expected = switch (sampler) {
                        case DDIM -> {
                            double a = schedule.alphaCumprod(schedule.integerTimestep(start));
                            yield Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * noise[i];
                        }
                        case EULER -> x0[i] + sigma * noise[i];
                        default -> (x0[i] + sigma * noise[i]) / Math.sqrt(sigma * sigma + 1.0);
                    };
                    assertEquals(expected, actual[i], 1e-5, sampler.apiName() + " element " + i);
                }
            }
        }
    }

    @Test
    void strengthThatLeavesNoStepIsRefused() {
        try (NDManager manager = NDManager.newBaseManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> startFromImage(Sampler.EULER, 0.01, manager.ones(LATENT), manager));
            assertTrue(e.getMessage().contains("strength"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> SamplerState.start(
                    SamplingPlan.of(Sampler.EULER, CONFIG, 20).withStrength(0.5), LATENT, new SeededNoise(1), manager));
        }
    }

    private static SamplerState startFromImage(Sampler sampler, double strength, NDArray image, NDManager manager) {
        return SamplerState.startFromImage(SamplingPlan.of(sampler, CONFIG, 20).withStrength(strength), image,
                new SeededNoise(1), manager);
    }

    private static float[] runAlone(Sampler sampler, long seed, NDManager manager) {
        SamplerState state = SamplerState.start(SamplingPlan.of(sampler, CONFIG, 12), LATENT, new SeededNoise(seed), manager);
        return runToEnd(state, null).toFloatArray();
    }
}
