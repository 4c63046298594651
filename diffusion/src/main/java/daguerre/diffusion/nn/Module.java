package daguerre.diffusion.nn;

import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A network block whose children and parameters are registered under the literal key segments of
 * the canonical checkpoint layout (diffusers / transformers), so that
 * {@link #namedParameters()} yields exactly the checkpoint's keys, e.g.
 * {@code down_blocks.1.attentions.0.proj_in.weight}, and loading needs no mapping table.
 *
 * <p>Subclasses register everything in their constructor and expose a typed {@code forward}.
 * Parameter-less parts (dropout, activations) are not registered; a comment says where they sit.
 */
public abstract class Module {

    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();

    /** Registers {@code child} under {@code key} (one key segment, or a dotted path such as "to_out.0"). */
    protected final <M extends Module> M child(String key, M child) {
        if (children.putIfAbsent(key, child) != null) {
            throw new IllegalStateException("duplicate child key " + key);
        }
        return child;
    }

    /** Registers a parameter of {@code shape} under {@code key} ("weight", "bias", "positional_embedding", ...). */
    protected final Parameter parameter(String key, Shape shape) {
        Parameter p = new Parameter(shape);
        if (parameters.putIfAbsent(key, p) != null) {
            throw new IllegalStateException("duplicate parameter key " + key);
        }
        return p;
    }

    /** Every parameter of this module and its descendants, keyed by its full dotted name, in registration order. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out);
        return Collections.unmodifiableMap(out);
    }

    private void collect(String prefix, Map<String, Parameter> out) {
        parameters.forEach((key, p) -> out.put(prefix + key, p));
        children.forEach((key, child) -> child.collect(prefix + key + ".", out));
    }

    /**
     * Whether any of this module's weights take gradients (a trainer attached them): its passes
     * then avoid the fused kernels, which run without autograd (see {@link Kernels#run}).
     */
    public final boolean isTraining() {
        return namedParameters().values().stream().anyMatch(p -> p.isSet() && p.value().hasGradient());
    }

    /** Bytes every weight takes in memory, in the types they are kept in. */
    public final long parameterBytes() {
        return namedParameters().values().stream().mapToLong(Parameter::byteSize).sum();
    }

    /** Total number of scalar weights. */
    public final long parameterCount() {
        return namedParameters().values().stream().mapToLong(p -> p.shape().size()).sum();
    }
}
