package daguerre.diffusion.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.schedule.Schedule;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestReporter;

/**
 * Every scheduler variant of the golden cases {@code schedulers} (epsilon) and {@code schedulers_v}
 * (v-prediction, zero terminal SNR): schedules for every stored step count, and the whole 20-step
 * trajectory with the analytic stand-in model and the recorded noise, step by step.
 */
class SamplerParityTest {

    private static final List<String> CASES = List.of("schedulers", "schedulers_v");
    private static final Pattern TIMESTEPS = Pattern.compile("timesteps_n(\\d+)");

    @TestFactory
    Stream<DynamicTest> schedulesMatchDiffusers() {
        return CASES.stream().flatMap(c -> SchedulerGolden.variants(c).stream())
                .map(v -> DynamicTest.dynamicTest("schedule " + v, () -> checkSchedules(v)));
    }

    @TestFactory
    Stream<DynamicTest> trajectoriesMatchDiffusers(TestReporter reporter) {
        return CASES.stream().flatMap(c -> SchedulerGolden.variants(c).stream())
                .map(v -> DynamicTest.dynamicTest("trajectory " + v, () -> checkTrajectory(v, reporter)));
    }

    private static void checkSchedules(SchedulerGolden.Variant variant) throws IOException {
        try (SafetensorsFile file = Golden.tensors(variant.caseName(), variant.file())) {
            TreeSet<Integer> stepCounts = new TreeSet<>();
            for (String name : file.names()) {
                Matcher m = TIMESTEPS.matcher(name);
                if (m.matches()) {
                    stepCounts.add(Integer.parseInt(m.group(1)));
                }
            }
            assertTrue(!stepCounts.isEmpty(), variant + " has no timesteps_nN tensors");
            for (int steps : stepCounts) {
                Schedule schedule = variant.sampler().schedule(variant.config(), steps);
                String what = variant + " N=" + steps;
                assertTimestepsExact(file, "timesteps_n" + steps, schedule.timesteps(), what);
                if (file.contains("sigmas_n" + steps)) {
                    assertRelative(file.floats("sigmas_n" + steps), schedule.sigmas(), 1e-6, what + " sigmas");
                }
                assertRelative(file.floats("init_noise_sigma_n" + steps), new float[] {schedule.initNoiseSigma()},
                        1e-6, what + " init_noise_sigma");
            }
        }
    }

    private static void checkTrajectory(SchedulerGolden.Variant variant, TestReporter reporter) throws IOException {
        JsonNode trajectory = variant.trajectory();
        JsonNode errors = trajectory.get("f32_vs_f64");
        int steps = trajectory.get("num_inference_steps").intValue();
        int calls = trajectory.get("num_model_calls").intValue();
        try (SafetensorsFile file = Golden.tensors(variant.caseName(), variant.file());
             NDManager job = NDManager.newBaseManager()) {
            Shape shape = new Shape(file.info("traj_initial_noise").shape());
            RecordedNoise noise = new RecordedNoise().add("traj_initial_noise", file.floats("traj_initial_noise"), shape);
            for (int k = 0; file.contains(noiseName(k)); k++) {
                noise.add(noiseName(k), file.floats(noiseName(k)), shape);
            }
            String x0Kind = x0Key(file);
            float[][] modelInputs = new float[calls][];
            float[][] latents = new float[calls][];
            float[][] x0s = new float[calls][];
            for (int i = 0; i < calls; i++) {
                modelInputs[i] = file.floats(stepName(i, "model_input"));
                latents[i] = file.floats(stepName(i, "latents"));
                x0s[i] = x0Kind == null ? null : file.floats(stepName(i, x0Kind));
            }
            float[] finalLatents = file.floats("traj_final_latents");
            double latentTolerance = tolerance(errors.get("all_step_latents"), maxAbs(latents));
            double finalTolerance = tolerance(errors.get("final_latents"), maxAbs(finalLatents));
            double inputTolerance = tolerance(errors.get("all_step_latents"), maxAbs(modelInputs));
            JsonNode x0Error = errors.has("all_step_" + x0Kind) ? errors.get("all_step_" + x0Kind)
                    : errors.get("all_step_latents");
            double x0Tolerance = x0Kind == null ? 0 : tolerance(x0Error, maxAbs(x0s));

            SamplerState state = SamplerState.start(variant.plan(steps), shape, noise, job);
            assertEquals(calls, state.totalSteps(), variant + " model calls");
            double initError = maxAbsDiff(file.floats("traj_latents_init"), state.latents());
            assertTrue(initError <= latentTolerance, variant + " initial latents off by " + initError);
            double[] timesteps = timesteps(file, "traj_timesteps");
            double inputError = 0;
            double latentError = 0;
            double x0Error2 = 0;
            for (int i = 0; i < calls; i++) {
                try (NDManager call = job.newSubManager()) {
                    ModelCall modelCall = state.modelCall(call);
                    assertEquals(timesteps[i], modelCall.timestep(), variant + " timestep of call " + i);
                    double e = maxAbsDiff(modelInputs[i], modelCall.input());
                    assertTrue(e <= inputTolerance, variant + " model input of call " + i + " off by " + e
                            + " > " + inputTolerance);
                    inputError = Math.max(inputError, e);
                    state.advance(standIn(modelCall.input(), modelCall.timestep()));
                    e = maxAbsDiff(latents[i], state.latents());
                    assertTrue(e <= latentTolerance, variant + " latents after call " + i + " off by " + e
                            + " > " + latentTolerance);
                    latentError = Math.max(latentError, e);
                    if (x0Kind != null) {
                        e = maxAbsDiff(x0s[i], state.denoised());
                        assertTrue(e <= x0Tolerance, variant + " " + x0Kind + " of call " + i + " off by " + e
                                + " > " + x0Tolerance);
                        x0Error2 = Math.max(x0Error2, e);
                    }
                }
            }
            assertTrue(state.isFinished(), variant + " not finished after " + calls + " calls");
            double finalError = maxAbsDiff(finalLatents, state.result());
            assertTrue(finalError <= finalTolerance, variant + " final latents off by " + finalError);
            assertEquals(noise.recorded(), noise.drawn(), variant + " noise tensors used");
            String x0Report = x0Kind == null ? "no x0 stored"
                    : String.format(Locale.ROOT, "%s %.3g (tol %.3g)", x0Kind, x0Error2, x0Tolerance);
            reporter.publishEntry(variant.toString(), String.format(Locale.ROOT,
                    "max abs err: model input %.3g (tol %.3g), latents %.3g (tol %.3g), %s, final %.3g (tol %.3g)",
                    inputError, inputTolerance, latentError, latentTolerance, x0Report, finalError, finalTolerance));
        }
    }

    /** The README's stand-in model: a, b in double, x * (float) a + (float) b in float32. */
    private static NDArray standIn(NDArray x, double t) {
        double a = 0.3 * Math.cos(t / 1000.0);
        double b = 0.1 * Math.sin(t / 100.0);
        return x.mul((float) a).add((float) b);
    }

    /** About 10x the observed float32-vs-float64 error, never looser than 1e-4 of the largest value. */
    private static double tolerance(JsonNode observed, double maxAbs) {
        return Math.min(10 * observed.get("max_abs_err").doubleValue(), 1e-4 * maxAbs);
    }

    private static String x0Key(SafetensorsFile file) {
        for (String kind : List.of("pred_original_sample", "x0_pred", "denoised")) {
            if (file.contains(stepName(0, kind))) {
                return kind;
            }
        }
        return null;
    }

    private static String stepName(int i, String what) {
        return String.format(Locale.ROOT, "traj_step%02d_%s", i, what);
    }

    private static String noiseName(int k) {
        return String.format(Locale.ROOT, "traj_noise%02d", k);
    }

    /** I64 (integer) or F32 / F64 (fractional) timesteps as stored. */
    private static double[] timesteps(SafetensorsFile file, String name) throws IOException {
        return file.doubles(name);
    }

    private static void assertTimestepsExact(SafetensorsFile file, String name, double[] ours, String what)
            throws IOException {
        double[] expected = timesteps(file, name);
        assertEquals(expected.length, ours.length, what + " timestep count");
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != ours[i]) {
                fail(what + " timestep " + i + ": expected " + expected[i] + " got " + ours[i]);
            }
        }
    }

    private static void assertRelative(float[] expected, float[] actual, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) expected[i] - actual[i]);
            if (diff > rtol * Math.abs(expected[i])) {
                fail(what + " [" + i + "]: expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    private static double maxAbsDiff(float[] expected, NDArray actual) {
        float[] values = actual.toFloatArray();
        assertEquals(expected.length, values.length, "element count");
        double max = 0;
        for (int i = 0; i < values.length; i++) {
            double diff = Math.abs((double) expected[i] - values[i]);
            if (Double.isNaN(diff)) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, diff);
        }
        return max;
    }

    private static double maxAbs(float[]... arrays) {
        double max = 0;
        for (float[] array : arrays) {
            if (array != null) {
                for (float v : array) {
                    max = Math.max(max, Math.abs(v));
                }
            }
        }
        return max;
    }

}
