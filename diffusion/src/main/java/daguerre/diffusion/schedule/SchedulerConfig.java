package daguerre.diffusion.schedule;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.ConfigReader;

/**
 * The noise-schedule settings of a model, as read from its diffusers {@code scheduler/scheduler_config.json}.
 *
 * <p>Only the options that SD 1.x / 2.x checkpoints use are kept. Options that would change the math in a way
 * we do not implement ({@code trained_betas}, {@code clip_sample: true}, {@code thresholding: true}, other
 * prediction types) are refused with an exception naming the key. Keys that only select a scheduler class
 * or solver ({@code _class_name}, {@code skip_prk_steps}, {@code use_karras_sigmas}, ...) are ignored: the
 * sampler is chosen per request.
 *
 * @param numTrainTimesteps number of training timesteps ({@code num_train_timesteps})
 * @param betaStart first beta ({@code beta_start})
 * @param betaEnd last beta ({@code beta_end})
 * @param betaSchedule how betas grow ({@code beta_schedule})
 * @param timestepSpacing how inference timesteps are spaced ({@code timestep_spacing})
 * @param stepsOffset added to every timestep with leading spacing ({@code steps_offset})
 * @param predictionType what the network predicts ({@code prediction_type})
 * @param rescaleBetasZeroSnr rescale betas to zero terminal SNR ({@code rescale_betas_zero_snr})
 * @param setAlphaToOne DDIM/PNDM/LCM: the alpha-bar after the last step is 1 instead of alphas_cumprod[0]
 *     ({@code set_alpha_to_one})
 */
public record SchedulerConfig(
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        BetaSchedule betaSchedule,
        TimestepSpacing timestepSpacing,
        int stepsOffset,
        PredictionType predictionType,
        boolean rescaleBetasZeroSnr,
        boolean setAlphaToOne) {

    /** The Stable Diffusion 1.5 settings: scaled_linear 0.00085..0.012 over 1000 steps, leading + 1, epsilon. */
    public static final SchedulerConfig SD15 = new SchedulerConfig(
            1000, 0.00085, 0.012, BetaSchedule.SCALED_LINEAR, TimestepSpacing.LEADING, 1,
            PredictionType.EPSILON, false, false);

    /** The most training timesteps a config may declare (SD uses 1000; the schedule holds one alpha-bar per step). */
    public static final int MAX_TRAIN_TIMESTEPS = 100_000;

    public SchedulerConfig {
        String what = "scheduler config";
        ConfigReader.checkRange(what, "num_train_timesteps", numTrainTimesteps, 2, MAX_TRAIN_TIMESTEPS);
        ConfigReader.checkPositiveFinite(what, "beta_start", betaStart, 1);
        ConfigReader.checkPositiveFinite(what, "beta_end", betaEnd, 1);
        if (!(betaStart < betaEnd)) {
            throw new IllegalArgumentException(what + ": beta_start = " + betaStart + " must be less than beta_end = " + betaEnd);
        }
        ConfigReader.checkRange(what, "steps_offset", stepsOffset, 0, numTrainTimesteps - 1L);
        if (betaSchedule == null || timestepSpacing == null || predictionType == null) {
            throw new IllegalArgumentException("beta_schedule, timestep_spacing and prediction_type are required");
        }
    }

    /**
     * Reads a diffusers scheduler config. A key that is absent takes its {@link #SD15} value, so a config
     * without {@code timestep_spacing} gets {@code leading} with {@code steps_offset} 1 as the DESIGN asks
     * (diffusers' own class defaults differ between scheduler classes).
     *
     * @throws IllegalArgumentException naming the key for values we refuse or cannot read
     */
    public static SchedulerConfig fromJson(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException("scheduler config must be a JSON object");
        }
        refuseIfSet(json, "trained_betas", "explicit trained_betas are not supported; use beta_start/beta_end");
        refuseIfTrue(json, "clip_sample", "clip_sample=true is not supported (SD 1.x/2.x configs set it false)");
        refuseIfTrue(json, "thresholding", "dynamic thresholding is not supported (SD 1.x/2.x configs set it false)");
        SchedulerConfig d = SD15;
        return new SchedulerConfig(
                intValue(json, "num_train_timesteps", d.numTrainTimesteps),
                doubleValue(json, "beta_start", d.betaStart),
                doubleValue(json, "beta_end", d.betaEnd),
                json.hasNonNull("beta_schedule")
                        ? BetaSchedule.fromConfigName(text(json, "beta_schedule")) : d.betaSchedule,
                json.hasNonNull("timestep_spacing")
                        ? TimestepSpacing.fromConfigName(text(json, "timestep_spacing")) : d.timestepSpacing,
                intValue(json, "steps_offset", d.stepsOffset),
                json.hasNonNull("prediction_type")
                        ? PredictionType.fromConfigName(text(json, "prediction_type")) : d.predictionType,
                booleanValue(json, "rescale_betas_zero_snr", d.rescaleBetasZeroSnr),
                booleanValue(json, "set_alpha_to_one", d.setAlphaToOne));
    }

    /** A copy with another timestep spacing. */
    public SchedulerConfig withTimestepSpacing(TimestepSpacing spacing) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, spacing, stepsOffset,
                predictionType, rescaleBetasZeroSnr, setAlphaToOne);
    }

    /** A copy with another prediction type. */
    public SchedulerConfig withPredictionType(PredictionType type) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, timestepSpacing, stepsOffset,
                type, rescaleBetasZeroSnr, setAlphaToOne);
    }

    private static void refuseIfSet(JsonNode json, String key, String message) {
        if (json.hasNonNull(key)) {
            throw new IllegalArgumentException("scheduler config key '" + key + "': " + message);
        }
    }

    private static void refuseIfTrue(JsonNode json, String key, String message) {
        if (booleanValue(json, key, false)) {
            throw new IllegalArgumentException("scheduler config key '" + key + "': " + message);
        }
    }

    private static String text(JsonNode json, String key) {
        JsonNode node = json.get(key);
        if (!node.isTextual()) {
            throw new IllegalArgumentException("scheduler config key '" + key + "' must be a string, got " + node);
        }
        return node.asText();
    }

    private static int intValue(JsonNode json, String key, int fallback) {
        if (!json.hasNonNull(key)) {
            return fallback;
        }
        JsonNode node = json.get(key);
        if (!node.canConvertToInt() || !node.isIntegralNumber()) {
            throw new IllegalArgumentException("scheduler config key '" + key + "' must be an integer, got " + node);
        }
        return node.intValue();
    }

    private static double doubleValue(JsonNode json, String key, double fallback) {
        if (!json.hasNonNull(key)) {
            return fallback;
        }
        JsonNode node = json.get(key);
        if (!node.isNumber()) {
            throw new IllegalArgumentException("scheduler config key '" + key + "' must be a number, got " + node);
        }
        return node.doubleValue();
    }

    private static boolean booleanValue(JsonNode json, String key, boolean fallback) {
        if (!json.hasNonNull(key)) {
            return fallback;
        }
        JsonNode node = json.get(key);
        if (!node.isBoolean()) {
            throw new IllegalArgumentException("scheduler config key '" + key + "' must be true or false, got " + node);
        }
        return node.booleanValue();
    }
}
