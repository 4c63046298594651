package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parameters one training stage updates, from one or more modules, keyed by component and
 * checkpoint key ({@code unet.conv_in.weight}, {@code text_encoder.text_model...}). Creating it
 * turns gradient recording on for each of them.
 */
public final class TrainableParameters {

    private final Map<String, Parameter> parameters = new LinkedHashMap<>();

    private TrainableParameters() {}

    /** The parameters of {@code modules} (component name -> module), each marked as requiring gradients. */
    public static TrainableParameters of(Map<String, ? extends Module> modules) {
        TrainableParameters out = new TrainableParameters();
        modules.forEach((component, module) -> module.namedParameters().forEach((key, parameter) -> {
            parameter.value().setRequiresGradient(true);
            out.parameters.put(component + "." + key, parameter);
        }));
        return out;
    }

    /** Every parameter, in registration order. */
    public Map<String, Parameter> all() {
        return Collections.unmodifiableMap(parameters);
    }

    /**
     * Whether AdamW applies weight decay to {@code name}: matrices and kernels do; biases,
     * normalisation scales (one-dimensional) and embedding tables do not.
     */
    public static boolean decays(String name, Parameter parameter) {
        return parameter.shape().dimension() >= 2 && !name.endsWith("_embedding.weight");
    }

    /** Total number of scalar weights. */
    public long count() {
        return parameters.values().stream().mapToLong(p -> p.shape().size()).sum();
    }

    /** The current value of {@code name}. */
    public NDArray value(String name) {
        Parameter parameter = parameters.get(name);
        if (parameter == null) {
            throw new IllegalArgumentException("no trainable parameter named " + name);
        }
        return parameter.value();
    }
}
