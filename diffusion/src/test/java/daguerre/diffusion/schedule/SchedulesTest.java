package daguerre.diffusion.schedule;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SchedulesTest {

    /**
     * Well inside 10x the float32-vs-float64 error the golden READMEs list for these tables (4.7e-7 to
     * 5.1e-7); the port reproduces diffusers' float32 arithmetic, so it is in fact bit-exact.
     */
    private static final double TABLE_TOLERANCE = 1e-6;

    @Test
    void alphasCumprodTablesMatchDiffusers() throws IOException {
        try (SafetensorsFile file = Golden.tensors("schedulers", "alphas_cumprod.safetensors")) {
            JsonNode definitions = new ObjectMapper().readTree(file.metadata().get("definitions"));
            Set<String> checked = new TreeSet<>();
            for (Map.Entry<String, JsonNode> definition : definitions.properties()) {
                String prefix = definition.getKey();
                SchedulerConfig config = SchedulerConfig.fromJson(definition.getValue());
                float[] betas = Schedules.betas(config);
                assertClose(file.floats(prefix + ".betas"), betas, prefix + ".betas");
                assertClose(file.floats(prefix + ".alphas_cumprod"), Schedules.alphasCumprod(betas),
                        prefix + ".alphas_cumprod");
                checked.add(prefix + ".betas");
                checked.add(prefix + ".alphas_cumprod");
            }
            assertEquals(file.names(), checked, "every table in the file is checked");
        }
    }

    /** The tables' beta settings are the case's own: those of its configs.json variants without and with zero SNR. */
    @Test
    void zeroTerminalSnrTablesMatchDiffusers() throws IOException {
        SchedulerConfig plain = variantConfig("schedulers_v", false);
        SchedulerConfig zeroSnr = variantConfig("schedulers_v", true);
        try (SafetensorsFile file = Golden.tensors("schedulers_v", "alphas_cumprod.safetensors")) {
            Set<String> checked = new TreeSet<>();
            for (String name : file.names()) {
                float[] ours = switch (name) {
                    case "sd_scaled_linear.betas" -> Schedules.betas(plain);
                    case "sd_scaled_linear.alphas_cumprod" -> Schedules.alphasCumprod(plain);
                    case "sd_scaled_linear_zsnr.betas" -> Schedules.betas(zeroSnr);
                    case "sd_scaled_linear_zsnr.alphas_cumprod" -> Schedules.alphasCumprod(zeroSnr);
                    case "sd_scaled_linear_zsnr_euler.alphas_cumprod" -> Schedules.alphasCumprodForSigmas(zeroSnr);
                    default -> throw new AssertionError("unexpected table " + name + " in schedulers_v");
                };
                assertClose(file.floats(name), ours, name);
                checked.add(name);
            }
            assertTrue(checked.size() >= 5, "expected the plain, zsnr and zsnr_euler tables, got " + checked);
        }
    }

    /** The resolved config of the first variant in a case's configs.json with the given rescale_betas_zero_snr. */
    private static SchedulerConfig variantConfig(String caseName, boolean zeroSnr) throws IOException {
        JsonNode configs = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()
                .readTree(Golden.file(caseName, "configs.json").toFile());
        for (JsonNode variant : configs) {
            JsonNode config = variant.get("config");
            if (config.path("rescale_betas_zero_snr").asBoolean(false) == zeroSnr) {
                return SchedulerConfig.fromJson(config);
            }
        }
        return fail(caseName + "/configs.json has no variant with rescale_betas_zero_snr = " + zeroSnr);
    }

    @Test
    void zeroTerminalSnrRescaleEndsAtZeroAndKeepsTheStart() {
        SchedulerConfig zeroSnr = new SchedulerConfig(1000, 0.00085, 0.012, BetaSchedule.SCALED_LINEAR,
                TimestepSpacing.TRAILING, 1, PredictionType.V_PREDICTION, true, false);
        float[] rescaled = Schedules.alphasCumprod(zeroSnr);
        float[] plain = Schedules.alphasCumprod(SchedulerConfig.SD15);
        assertEquals(0f, rescaled[999]);
        assertEquals(plain[0], rescaled[0], 1e-7);
        assertEquals(0x1p-24f, Schedules.alphasCumprodForSigmas(zeroSnr)[999]);
        float[] sigmas = Schedules.sigmas(Schedules.alphasCumprodForSigmas(zeroSnr));
        assertEquals(4096, sigmas[999], 0.01);
    }

    @Test
    void spacingsFollowTheirDefinitions() {
        assertArrayEquals(new double[] {751, 501, 251, 1}, Schedules.spacedTimesteps(TimestepSpacing.LEADING, 1000, 4, 1));
        assertArrayEquals(new double[] {999, 749, 499, 249}, Schedules.spacedTimesteps(TimestepSpacing.TRAILING, 1000, 4, 1));
        assertArrayEquals(new double[] {999, 666, 333, 0}, Schedules.spacedTimesteps(TimestepSpacing.LINSPACE, 1000, 4, 1));
        // 999 * 2 / 3 = 666.0 exactly, 999 / 3 = 333.0: fractional values appear for other counts
        double[] linspace = Schedules.spacedTimesteps(TimestepSpacing.LINSPACE, 1000, 20, 1);
        assertEquals(999 - 999.0 / 19, linspace[1], 1e-12);
        assertArrayEquals(new long[] {801, 601, 401, 201}, Schedules.dpmSolverTimesteps(TimestepSpacing.LEADING, 1000, 4, 1));
        assertArrayEquals(new long[] {999, 749, 500, 250}, Schedules.dpmSolverTimesteps(TimestepSpacing.LINSPACE, 1000, 4, 1));
    }

    @Test
    void trailingSpacingAlwaysGivesTheRequestedCount() {
        // numpy.arange's length rounding gives 62 values for 61 steps; we always give exactly N, all >= 0
        for (int steps = 1; steps <= 1000; steps++) {
            double[] timesteps = Schedules.spacedTimesteps(TimestepSpacing.TRAILING, 1000, steps, 1);
            assertEquals(steps, timesteps.length);
            assertEquals(999, timesteps[0]);
            for (int i = 1; i < steps; i++) {
                if (!(timesteps[i] < timesteps[i - 1] && timesteps[i] >= 0)) {
                    fail("trailing N=" + steps + " not strictly descending and non-negative at " + i);
                }
            }
        }
    }

    @Test
    void plmsRepeatsTheSecondTimestep() {
        assertArrayEquals(new double[] {751, 501, 501, 251, 1}, Schedules.plmsTimesteps(new double[] {751, 501, 251, 1}));
        assertArrayEquals(new double[] {1}, Schedules.plmsTimesteps(new double[] {1}));
    }

    @Test
    void lcmTimestepsSampleTheDistillationGrid() {
        assertArrayEquals(new long[] {999, 759, 499, 259}, Schedules.lcmTimesteps(1000, 50, 4, 1.0));
        // image-to-image at strength 0.5 uses only the lower half of the grid
        assertArrayEquals(new long[] {499, 379, 259, 139}, Schedules.lcmTimesteps(1000, 50, 4, 0.5));
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> Schedules.lcmTimesteps(1000, 50, 51, 1.0));
        assertTrue(tooMany.getMessage().contains("original_inference_steps"), tooMany.getMessage());
    }

    @Test
    void karrasSigmasSpanTheRangeAndMapBackToTimesteps() {
        float[] sigmas = Schedules.sigmas(Schedules.alphasCumprod(SchedulerConfig.SD15));
        double[] karras = Schedules.karrasSigmas(sigmas[0], sigmas[999], 10);
        assertEquals(sigmas[999], karras[0], 1e-5);
        assertEquals(sigmas[0], karras[9], 1e-7);
        float[] logSigmas = new float[sigmas.length];
        for (int i = 0; i < sigmas.length; i++) {
            logSigmas[i] = (float) Math.log(sigmas[i]);
        }
        for (int t : new int[] {0, 1, 250, 500, 998, 999}) {
            assertEquals(t, Schedules.sigmaToTimestep(sigmas[t], logSigmas), 1e-3, "sigma of t=" + t);
        }
        assertEquals(700.5, Schedules.sigmaToTimestep(Math.exp((logSigmas[700] + logSigmas[701]) / 2.0), logSigmas), 1e-3);
    }

    @Test
    void stepCountsOutsideTheTrainingRangeFail() {
        assertThrows(IllegalArgumentException.class, () -> Schedules.spacedTimesteps(TimestepSpacing.LEADING, 1000, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Schedules.spacedTimesteps(TimestepSpacing.LEADING, 1000, 1001, 1));
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs((double) expected[i] - actual[i]) > TABLE_TOLERANCE) {
                fail(what + "[" + i + "]: expected " + expected[i] + " got " + actual[i]);
            }
        }
    }
}
