package daguerre.diffusion.sampling;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.weights.Golden;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads the scheduler golden cases ({@code schedulers}, {@code schedulers_v}): the variants listed in
 * {@code configs.json}, each mapped from its diffusers class, overrides and step kwargs to our sampler.
 */
final class SchedulerGolden {

    /** configs.json holds diffusers' resolved configs, which contain -Infinity (lambda_min_clipped). */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    /**
     * One golden variant.
     *
     * @param caseName golden case folder
     * @param name variant name (also its safetensors file name)
     * @param sampler our sampler for its class and overrides
     * @param config its resolved scheduler config
     * @param eta DDIM eta from the step kwargs (0 otherwise)
     * @param entry its configs.json entry
     */
    record Variant(String caseName, String name, Sampler sampler, SchedulerConfig config, double eta,
                   JsonNode entry) {

        String file() {
            return name + ".safetensors";
        }

        SamplingPlan plan(int steps) {
            return new SamplingPlan(sampler, config, steps, eta, 1.0);
        }

        JsonNode trajectory() {
            return entry.get("trajectory");
        }

        @Override
        public String toString() {
            return caseName + "/" + name;
        }
    }

    private SchedulerGolden() {}

    static List<Variant> variants(String caseName) {
        JsonNode root;
        try {
            root = JSON.readTree(Golden.file(caseName, "configs.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Variant> variants = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            variants.add(variant(caseName, field.getKey(), field.getValue()));
        }
        if (variants.isEmpty()) {
            fail(caseName + "/configs.json lists no variants");
        }
        return variants;
    }

    private static Variant variant(String caseName, String name, JsonNode entry) {
        JsonNode config = entry.get("config");
        String className = entry.get("class").asText();
        String where = caseName + "/" + name + " (" + className + ")";
        Sampler sampler = switch (className) {
            case "DDPMScheduler" -> {
                require(config, "variance_type", "fixed_small", where);
                yield Sampler.DDPM;
            }
            case "DDIMScheduler" -> Sampler.DDIM;
            case "PNDMScheduler" -> {
                require(config, "skip_prk_steps", "true", where);
                yield Sampler.PNDM;
            }
            case "LMSDiscreteScheduler" -> {
                require(config, "use_karras_sigmas", "false", where);
                yield Sampler.LMS;
            }
            case "EulerDiscreteScheduler" -> {
                require(config, "use_karras_sigmas", "false", where);
                require(config, "interpolation_type", "linear", where);
                require(config, "timestep_type", "discrete", where);
                yield Sampler.EULER;
            }
            case "EulerAncestralDiscreteScheduler" -> Sampler.EULER_A;
            case "DPMSolverMultistepScheduler" -> {
                require(config, "algorithm_type", "dpmsolver++", where);
                require(config, "solver_order", "2", where);
                require(config, "solver_type", "midpoint", where);
                require(config, "lower_order_final", "true", where);
                require(config, "final_sigmas_type", "zero", where);
                require(config, "euler_at_final", "false", where);
                require(config, "use_lu_lambdas", "false", where);
                yield config.path("use_karras_sigmas").asBoolean(false) ? Sampler.DPMPP_2M_KARRAS : Sampler.DPMPP_2M;
            }
            case "LCMScheduler" -> {
                require(config, "original_inference_steps", String.valueOf(LcmAlgorithm.ORIGINAL_INFERENCE_STEPS), where);
                if (config.get("timestep_scaling").doubleValue() != LcmAlgorithm.TIMESTEP_SCALING) {
                    fail(where + ": timestep_scaling " + config.get("timestep_scaling") + " is not ours");
                }
                yield Sampler.LCM;
            }
            default -> throw new AssertionError("unknown scheduler class " + where
                    + "; map it to a Sampler in SchedulerGolden");
        };
        double eta = 0;
        for (Map.Entry<String, JsonNode> kwarg : entry.get("step_kwargs").properties()) {
            if (!kwarg.getKey().equals("eta")) {
                fail(where + ": unknown step kwarg " + kwarg.getKey());
            }
            eta = kwarg.getValue().doubleValue();
        }
        return new Variant(caseName, name, sampler, SchedulerConfig.fromJson(config), eta, entry);
    }

    private static void require(JsonNode config, String key, String expected, String where) {
        if (!config.has(key) || !config.get(key).asText().equals(expected)) {
            fail(where + ": expected " + key + " = " + expected + " but the config has " + config.get(key));
        }
    }
}
