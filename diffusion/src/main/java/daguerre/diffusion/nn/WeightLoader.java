package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.weights.TensorSource;
import daguerre.weights.safetensors.DType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * Loads a {@link Module}'s parameters from a {@link TensorSource}, strictly and loudly: a missing key,
 * an unexpected key, a shape mismatch (stored and expected shapes) or a NaN/infinite value anywhere
 * in a tensor fails with the file's and the key's name. The only shape changes allowed
 * are those declared in {@link #ALLOWED_RESHAPES}.
 */
public final class WeightLoader {

    /**
     * The one list of shape transforms: a checkpoint tensor may differ from its parameter only by
     * unit dimensions, as when a 1x1 convolution [out, in, 1, 1] stores a linear projection
     * [out, in] or the reverse (SD 1.x vs 2.x {@code proj_in}/{@code proj_out}, VAE attention
     * {@code to_q/to_k/to_v} in original LDM files).
     */
    public static final String ALLOWED_RESHAPES = "squeeze/unsqueeze of size-1 dimensions only";

    private WeightLoader() {}

    /**
     * Loads every parameter of {@code module} from {@code source}; tensors named {@code prefix + key}.
     *
     * @param ignored source keys (without prefix) that may be present and are skipped, e.g. the
     *     {@code position_ids} buffer real CLIP checkpoints carry
     */
    public static void load(Module module, TensorSource source, String prefix, NDManager manager,
                            Predicate<String> ignored) throws IOException {
        load(module, source, prefix, manager, ignored, WeightPrecision.FLOAT32);
    }

    /**
     * As {@link #load(Module, TensorSource, String, NDManager, Predicate)}, keeping each parameter in
     * the type {@code precision} gives it ({@link WeightPrecision#storageType}): one tensor at a time
     * is decoded to float32 and converted, so loading never holds the model twice.
     */
    public static void load(Module module, TensorSource source, String prefix, NDManager manager,
                            Predicate<String> ignored, WeightPrecision precision) throws IOException {
        Map<String, Parameter> parameters = module.namedParameters();
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            String key = prefix + e.getKey();
            if (!source.names().contains(key)) {
                missing.add(key);
            }
        }
        Set<String> unexpected = new TreeSet<>();
        for (String name : source.names()) {
            if (name.startsWith(prefix)) {
                String key = name.substring(prefix.length());
                if (!parameters.containsKey(key) && !ignored.test(key)) {
                    unexpected.add(name);
                }
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IOException(source.description() + ": weights do not match the model: "
                    + (missing.isEmpty() ? "" : missing.size() + " missing key(s) " + head(missing))
                    + (missing.isEmpty() || unexpected.isEmpty() ? "" : "; ")
                    + (unexpected.isEmpty() ? "" : unexpected.size() + " unexpected key(s) " + head(new ArrayList<>(unexpected))));
        }
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            String key = prefix + e.getKey();
            Parameter parameter = e.getValue();
            long[] stored = source.shape(key);
            if (!compatible(stored, parameter.shape().getShape())) {
                throw new IOException(source.description() + ": tensor '" + key + "' has shape " + Arrays.toString(stored)
                        + " but the model expects " + parameter.shape() + " (allowed: " + ALLOWED_RESHAPES + ")");
            }
            float[] values = source.floats(key);
            requireFinite(source, key, values);
            DataType storage = precision.storageType(dataType(source.dtype(key)), parameter.shape());
            if (storage == DataType.FLOAT16) {
                requireFloat16Range(source, key, values);
            }
            parameter.set(values, manager, storage);
        }
    }

    /** The engine type of a stored type: F16 and BF16 as such, every other type float32. */
    private static DataType dataType(DType stored) {
        return switch (stored) {
            case F16 -> DataType.FLOAT16;
            case BF16 -> DataType.BFLOAT16;
            default -> DataType.FLOAT32;
        };
    }

    /**
     * Fails, naming the tensor and the first element, if a value is beyond float16's range (it would
     * become infinite): such weights need {@code --weight-dtype bf16} or {@code f32}.
     */
    static void requireFloat16Range(TensorSource source, String key, float[] values) throws IOException {
        for (int i = 0; i < values.length; i++) {
            if (Math.abs(values[i]) > WeightPrecision.FLOAT16_MAX) {
                throw new IOException(source.description() + ": tensor '" + key + "' holds " + values[i] + " at element " + i
                        + ", beyond float16's range (+-" + WeightPrecision.FLOAT16_MAX
                        + "); keep the weights in bf16 or f32 (--weight-dtype bf16|f32)");
            }
        }
    }

    /** Loads with no ignored keys, in float32. */
    public static void load(Module module, TensorSource source, String prefix, NDManager manager) throws IOException {
        load(module, source, prefix, manager, key -> false);
    }

    /** Loads with no ignored keys, in {@code precision}. */
    public static void load(Module module, TensorSource source, String prefix, NDManager manager,
                            WeightPrecision precision) throws IOException {
        load(module, source, prefix, manager, key -> false, precision);
    }

    /**
     * Fails, naming the file, the tensor and the first bad element, if any value of the tensor is NaN
     * or infinite. Every element is checked, not a sample: the values are already decoded to float32
     * here, so the check is one more pass over memory, far cheaper than the decoding itself.
     */
    static void requireFinite(TensorSource source, String key, float[] values) throws IOException {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IOException(source.description() + ": tensor '" + key + "' holds a non-finite value ("
                        + values[i] + ") at element " + i + " of " + values.length
                        + "; the weights are corrupt (every weight must be a finite number)");
            }
        }
    }

    private static boolean compatible(long[] stored, long[] expected) {
        return Arrays.equals(withoutUnitDims(stored), withoutUnitDims(expected))
                && new Shape(stored).size() == new Shape(expected).size();
    }

    private static long[] withoutUnitDims(long[] shape) {
        return Arrays.stream(shape).filter(d -> d != 1).toArray();
    }

    private static String head(List<String> keys) {
        int shown = Math.min(keys.size(), 8);
        return keys.subList(0, shown) + (keys.size() > shown ? " ..." : "");
    }
}
