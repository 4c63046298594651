package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Seeded random initialisation of every parameter of a {@link Module}, from a Java generator (never
 * the engine's global RNG), the same on every machine for the same seed:
 * <ul>
 *   <li>embedding tables (a key ending in {@code _embedding.weight}, e.g.
 *       {@code token_embedding.weight}, {@code position_embedding.weight}): normal(0, 0.02), as
 *       transformers initialises CLIP's;</li>
 *   <li>other weights with two or more dimensions (linear [out, in], convolution
 *       [out, in, k, k]): normal(0, 1/sqrt(fan_in)), fan_in = in * k * k (LeCun normal, LeCun et
 *       al. 1998), which keeps activations at unit scale through each layer;</li>
 *   <li>one-dimensional {@code weight}s (the scales of GroupNorm and LayerNorm): ones;</li>
 *   <li>{@code bias}es: zeros.</li>
 * </ul>
 *
 * <p>Each parameter gets its own generator, split in registration order from one
 * {@link SplittableRandom} seeded with {@code seed}; parameters are then filled in parallel, so the
 * result does not depend on the number of threads. Values are generated into one {@code float[]}
 * per parameter, so a billion parameters take seconds.
 */
public final class Initializers {

    /** Standard deviation of embedding tables. */
    public static final double EMBEDDING_STD = 0.02;

    private Initializers() {}

    /** How a parameter is initialised, chosen from its key and shape. */
    public enum Scheme {
        /** normal(0, {@value #EMBEDDING_STD}) */
        EMBEDDING,
        /** normal(0, 1/sqrt(fan_in)) */
        FAN_IN_NORMAL,
        /** all ones */
        ONES,
        /** all zeros */
        ZEROS;

        /** The scheme for parameter {@code key} of {@code shape}; fails for a key that is neither a weight nor a bias. */
        public static Scheme of(String key, Shape shape) {
            if (key.equals("bias") || key.endsWith(".bias")) {
                return ZEROS;
            }
            if (key.equals("weight") || key.endsWith(".weight")) {
                if (key.endsWith("_embedding.weight")) {
                    return EMBEDDING;
                }
                return shape.dimension() >= 2 ? FAN_IN_NORMAL : ONES;
            }
            throw new IllegalArgumentException("no initialisation rule for parameter '" + key + "' of shape " + shape
                    + " (known: *.weight, *.bias)");
        }
    }

    /**
     * Sets every parameter of {@code module} to seeded random values (see the class comment),
     * created in {@code manager} (the model's weights manager). Existing values are replaced.
     */
    public static void initialize(Module module, long seed, NDManager manager) {
        initialize(module, seed, manager, WeightPrecision.FLOAT32);
    }

    /**
     * As {@link #initialize(Module, long, NDManager)}, keeping each parameter in the type
     * {@code precision} gives a float32 one (converted as soon as it is drawn: the model is never
     * held in float32 whole). The values are those of the float32 model, rounded.
     */
    public static void initialize(Module module, long seed, NDManager manager, WeightPrecision precision) {
        List<Map.Entry<String, Parameter>> parameters = new ArrayList<>(module.namedParameters().entrySet());
        SplittableRandom root = new SplittableRandom(seed);
        List<SplittableRandom> generators = new ArrayList<>(parameters.size());
        for (int i = 0; i < parameters.size(); i++) {
            generators.add(root.split());
        }
        Object creation = new Object();
        IntStream.range(0, parameters.size()).parallel().forEach(i -> {
            String key = parameters.get(i).getKey();
            Parameter parameter = parameters.get(i).getValue();
            float[] values = values(key, parameter.shape(), generators.get(i));
            synchronized (creation) {
                parameter.set(values, manager, precision.storageType(DataType.FLOAT32, parameter.shape()));
            }
        });
    }

    /** The values of parameter {@code key} of {@code shape}, row-major, drawn from {@code random}. */
    public static float[] values(String key, Shape shape, SplittableRandom random) {
        float[] values = new float[Math.toIntExact(shape.size())];
        switch (Scheme.of(key, shape)) {
            case EMBEDDING -> fillNormal(values, EMBEDDING_STD, random);
            case FAN_IN_NORMAL -> fillNormal(values, 1.0 / Math.sqrt(fanIn(shape)), random);
            case ONES -> Arrays.fill(values, 1f);
            case ZEROS -> { }
        }
        return values;
    }

    /** Inputs per output unit of a weight [out, in, k...]: in * k * ... */
    public static long fanIn(Shape shape) {
        return shape.size() / shape.get(0);
    }

    private static void fillNormal(float[] values, double std, SplittableRandom random) {
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * std);
        }
    }
}
