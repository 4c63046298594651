package daguerre.diffusion.sampling;

import daguerre.diffusion.schedule.Schedule;
import daguerre.diffusion.schedule.SchedulerConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The samplers Daguerre offers, with their API and A1111 names. */
public enum Sampler {
    /** DDPM ancestral sampling (Ho et al. 2020, algorithm 2). */
    DDPM("ddpm", "DDPM", new DdpmAlgorithm()),
    /** DDIM (Song et al. 2020), eta 0 by default. */
    DDIM("ddim", "DDIM", new DdimAlgorithm()),
    /** PNDM with the Runge-Kutta warm-up skipped, i.e. PLMS (Liu et al. 2022). */
    PNDM("pndm", "PLMS", new PlmsAlgorithm()),
    /** Linear multistep on sigmas (Karras et al. 2022 / k-diffusion), order 4. */
    LMS("lms", "LMS", new LmsAlgorithm()),
    /** Euler on sigmas (Karras et al. 2022, algorithm 2 without churn). */
    EULER("euler", "Euler", new EulerAlgorithm()),
    /** Euler ancestral on sigmas (k-diffusion). */
    EULER_A("euler_a", "Euler a", new EulerAncestralAlgorithm()),
    /** DPM-Solver++(2M) (Lu et al. 2022), midpoint, first order at the ends. */
    DPMPP_2M("dpmpp_2m", "DPM++ 2M", new DpmSolverPlusPlus2MAlgorithm(false)),
    /** DPM-Solver++(2M) on Karras sigmas. */
    DPMPP_2M_KARRAS("dpmpp_2m_karras", "DPM++ 2M Karras", new DpmSolverPlusPlus2MAlgorithm(true)),
    /** Latent consistency model sampling (Luo et al. 2023). */
    LCM("lcm", "LCM", new LcmAlgorithm());

    private final String apiName;
    private final String a1111Name;
    private final SamplerAlgorithm algorithm;

    Sampler(String apiName, String a1111Name, SamplerAlgorithm algorithm) {
        this.apiName = apiName;
        this.a1111Name = a1111Name;
        this.algorithm = algorithm;
    }

    /** The native API name, e.g. {@code dpmpp_2m_karras}. */
    public String apiName() {
        return apiName;
    }

    /** The AUTOMATIC1111 name, e.g. {@code DPM++ 2M Karras}. */
    public String a1111Name() {
        return a1111Name;
    }

    /**
     * The schedule this sampler runs for a config and step count (text-to-image; image-to-image starts
     * part-way into it, see {@link SamplerState#startFromImage}).
     */
    public Schedule schedule(SchedulerConfig config, int steps) {
        return algorithm.schedule(config, steps, 1.0);
    }

    SamplerAlgorithm algorithm() {
        return algorithm;
    }

    /**
     * The sampler with this API or A1111 name, ignoring case.
     *
     * @throws IllegalArgumentException listing the valid names
     */
    public static Sampler fromName(String name) {
        if (name != null) {
            String wanted = name.trim().toLowerCase(Locale.ROOT);
            for (Sampler sampler : values()) {
                if (sampler.apiName.equals(wanted) || sampler.a1111Name.toLowerCase(Locale.ROOT).equals(wanted)) {
                    return sampler;
                }
            }
        }
        throw new IllegalArgumentException("unknown sampler '" + name + "'; valid names: " + validNames());
    }

    /** All valid names, API names first, for error messages and docs. */
    public static String validNames() {
        return Arrays.stream(values()).map(Sampler::apiName).collect(Collectors.joining(", "))
                + " (or " + Arrays.stream(values()).map(s -> "'" + s.a1111Name + "'")
                        .collect(Collectors.joining(", ")) + ")";
    }
}
