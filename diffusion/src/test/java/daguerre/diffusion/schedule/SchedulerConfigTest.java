package daguerre.diffusion.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class SchedulerConfigTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The scheduler/scheduler_config.json shipped with Stable Diffusion v1.5 (no timestep_spacing key). */
    private static final String SD15_JSON = """
            {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
             "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null,
             "clip_sample": false}""";

    /** The SD 2.x 768-v scheduler config. */
    private static final String SD2_V_JSON = """
            {"_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
             "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": false,
             "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}""";

    @Test
    void sd15ConfigParsesToTheSd15Constant() throws Exception {
        assertEquals(SchedulerConfig.SD15, SchedulerConfig.fromJson(JSON.readTree(SD15_JSON)));
    }

    @Test
    void missingKeysTakeTheSd15Values() throws Exception {
        SchedulerConfig config = SchedulerConfig.fromJson(JSON.readTree("{}"));
        assertEquals(SchedulerConfig.SD15, config);
        assertEquals(TimestepSpacing.LEADING, config.timestepSpacing());
        assertEquals(1, config.stepsOffset());
    }

    @Test
    void vPredictionAndSpacingAreRead() throws Exception {
        SchedulerConfig v = SchedulerConfig.fromJson(JSON.readTree(SD2_V_JSON));
        assertEquals(PredictionType.V_PREDICTION, v.predictionType());
        SchedulerConfig trailing = SchedulerConfig.fromJson(JSON.readTree(
                "{\"timestep_spacing\": \"trailing\", \"rescale_betas_zero_snr\": true, \"steps_offset\": 0}"));
        assertEquals(TimestepSpacing.TRAILING, trailing.timestepSpacing());
        assertTrue(trailing.rescaleBetasZeroSnr());
        assertEquals(0, trailing.stepsOffset());
        assertEquals(SchedulerConfig.SD15.withTimestepSpacing(TimestepSpacing.TRAILING)
                .withPredictionType(PredictionType.V_PREDICTION).predictionType(), PredictionType.V_PREDICTION);
    }

    @Test
    void unsupportedOptionsAreRefusedNamingTheKey() {
        assertRefused("{\"trained_betas\": [0.1, 0.2]}", "trained_betas");
        assertRefused("{\"clip_sample\": true}", "clip_sample");
        assertRefused("{\"thresholding\": true}", "thresholding");
        assertRefused("{\"prediction_type\": \"sample\"}", "prediction_type");
        assertRefused("{\"timestep_spacing\": \"karras\"}", "timestep_spacing");
        assertRefused("{\"beta_schedule\": \"sigmoid\"}", "beta_schedule");
        assertRefused("{\"steps_offset\": \"one\"}", "steps_offset");
        assertRefused("{\"num_train_timesteps\": 1.5}", "num_train_timesteps");
    }

    private static void assertRefused(String json, String key) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson(JSON.readTree(json)));
        assertTrue(e.getMessage().contains(key), "message should name " + key + ": " + e.getMessage());
    }
}
