package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An exponential moving average of the trained weights (Polyak and Juditsky 1992), the weights that
 * are exported: ema = d * ema + (1 - d) * p after every update, with the warm-up
 * d = min(decay, (1 + n) / (10 + n)) so that early averages are not dominated by the random start.
 */
public final class ExponentialMovingAverage implements AutoCloseable {

    private final TrainableParameters parameters;
    private final double decay;
    private final NDManager manager;
    private final Map<String, NDArray> averages = new LinkedHashMap<>();

    /** Averages initialised to the current weights, in a new child of {@code parent}. */
    public ExponentialMovingAverage(TrainableParameters parameters, double decay, NDManager parent) {
        if (!(decay >= 0 && decay < 1)) {
            throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
        }
        this.parameters = parameters;
        this.decay = decay;
        this.manager = parent.newSubManager();
        parameters.all().forEach((name, p) -> {
            NDArray copy = p.value().duplicate();
            copy.attach(manager);
            averages.put(name, copy);
        });
    }

    /** The averaged weights by parameter name. */
    public Map<String, NDArray> averages() {
        return averages;
    }

    /** The decay used after {@code updates} updates. */
    public double decayAt(long updates) {
        return Math.min(decay, (1.0 + updates) / (10.0 + updates));
    }

    /** Folds the current weights in, as update number {@code updates} (from 1). */
    public void update(long updates) {
        float d = (float) decayAt(updates);
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = manager.newSubManager()) {
            averages.forEach((name, average) -> {
                NDArray weighted = parameters.value(name).mul(1 - d);
                weighted.attach(scope);
                average.muli(d).addi(weighted);
            });
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** Replaces the averages with stored values. */
    public void restore(Map<String, float[]> values) {
        averages.forEach((name, array) -> {
            float[] stored = values.get(name);
            if (stored == null) {
                throw new IllegalArgumentException("checkpoint has no EMA weights for " + name);
            }
            array.set(stored);
        });
    }

    @Override
    public void close() {
        manager.close();
    }
}
