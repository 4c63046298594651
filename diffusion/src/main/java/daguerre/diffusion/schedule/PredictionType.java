package daguerre.diffusion.schedule;

import java.util.Arrays;
import java.util.Locale;

/** What the denoising network predicts; diffusers' {@code prediction_type}. */
public enum PredictionType {
    /** the added noise epsilon (SD 1.x, SD 2.x 512-base). */
    EPSILON("epsilon"),
    /**
     * the velocity v = sqrt(a) * eps - sqrt(1 - a) * x0 (SD 2.x 768-v; Salimans and Ho 2022,
     * "Progressive Distillation", section 4).
     */
    V_PREDICTION("v_prediction");

    private final String configName;

    PredictionType(String configName) {
        this.configName = configName;
    }

    /** The value used in {@code scheduler_config.json}. */
    public String configName() {
        return configName;
    }

    /** Parses a {@code prediction_type} value; an unknown one fails naming the valid values. */
    public static PredictionType fromConfigName(String name) {
        for (PredictionType type : values()) {
            if (type.configName.equals(name.toLowerCase(Locale.ROOT))) {
                return type;
            }
        }
        throw new IllegalArgumentException("unsupported prediction_type '" + name + "', expected one of "
                + Arrays.stream(values()).map(PredictionType::configName).toList());
    }
}
