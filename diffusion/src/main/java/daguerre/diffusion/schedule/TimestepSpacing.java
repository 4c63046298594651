package daguerre.diffusion.schedule;

import java.util.Arrays;
import java.util.Locale;

/**
 * How inference timesteps are picked among the training timesteps; diffusers' {@code timestep_spacing}
 * (see Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", table 2).
 */
public enum TimestepSpacing {
    /** multiples of {@code train / steps}, counting up from 0, plus {@code steps_offset} (SD 1.x default). */
    LEADING("leading"),
    /** multiples of {@code train / steps} counting down from the last training timestep. */
    TRAILING("trailing"),
    /** evenly spaced over [0, train - 1], both ends included. */
    LINSPACE("linspace");

    private final String configName;

    TimestepSpacing(String configName) {
        this.configName = configName;
    }

    /** The value used in {@code scheduler_config.json}. */
    public String configName() {
        return configName;
    }

    /** Parses a {@code timestep_spacing} value; an unknown one fails naming the valid values. */
    public static TimestepSpacing fromConfigName(String name) {
        for (TimestepSpacing spacing : values()) {
            if (spacing.configName.equals(name.toLowerCase(Locale.ROOT))) {
                return spacing;
            }
        }
        throw new IllegalArgumentException("unsupported timestep_spacing '" + name + "', expected one of "
                + Arrays.stream(values()).map(TimestepSpacing::configName).toList());
    }
}
