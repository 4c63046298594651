package daguerre.diffusion.schedule;

import java.util.Arrays;
import java.util.Locale;

/** How the training noise levels (betas) grow over the training timesteps; diffusers' {@code beta_schedule}. */
public enum BetaSchedule {
    /** betas = linspace(beta_start, beta_end) (DDPM). */
    LINEAR("linear"),
    /** betas = linspace(sqrt(beta_start), sqrt(beta_end))^2 (Stable Diffusion). */
    SCALED_LINEAR("scaled_linear"),
    /** the cosine alpha-bar schedule of Nichol and Dhariwal 2021, each beta capped at 0.999. */
    SQUAREDCOS_CAP_V2("squaredcos_cap_v2");

    private final String configName;

    BetaSchedule(String configName) {
        this.configName = configName;
    }

    /** The value used in {@code scheduler_config.json}. */
    public String configName() {
        return configName;
    }

    /** Parses a {@code beta_schedule} value; an unknown one fails naming the valid values. */
    public static BetaSchedule fromConfigName(String name) {
        for (BetaSchedule schedule : values()) {
            if (schedule.configName.equals(name.toLowerCase(Locale.ROOT))) {
                return schedule;
            }
        }
        throw new IllegalArgumentException("unsupported beta_schedule '" + name + "', expected one of "
                + Arrays.stream(values()).map(BetaSchedule::configName).toList());
    }
}
