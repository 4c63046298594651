package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import daguerre.diffusion.nn.Parameter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter 2019, Algorithm 2), with gradient-norm
 * clipping before the update:
 * <pre>
 *   g = grad * min(1, maxNorm / ||grad||)            (global L2 norm over all parameters)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *   p = p (1 - lr wd) - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * </pre>
 * Weight decay skips biases, normalisation scales and embeddings ({@link TrainableParameters#decays}).
 * The moments live in the optimiser's own manager and are part of a checkpoint.
 */
public final class AdamW implements AutoCloseable {

    /** The hyper-parameters. */
    public record Settings(double beta1, double beta2, double epsilon, double weightDecay, double maxGradientNorm) {

        /** beta1 0.9, beta2 0.999, epsilon 1e-8 (Kingma and Ba 2015) with the given decay and clipping norm. */
        public static Settings standard(double weightDecay, double maxGradientNorm) {
            return new Settings(0.9, 0.999, 1e-8, weightDecay, maxGradientNorm);
        }
    }

    private final TrainableParameters parameters;
    private final Settings settings;
    private final NDManager manager;
    private final Map<String, NDArray> firstMoments = new LinkedHashMap<>();
    private final Map<String, NDArray> secondMoments = new LinkedHashMap<>();
    private long updates;
    private List<String> nonFiniteGradients = List.of();

    /** An optimiser with zero moments, its state in a new child of {@code parent}. */
    public AdamW(TrainableParameters parameters, Settings settings, NDManager parent) {
        this.parameters = parameters;
        this.settings = settings;
        this.manager = parent.newSubManager();
        parameters.all().forEach((name, p) -> {
            firstMoments.put(name, manager.zeros(p.shape()));
            secondMoments.put(name, manager.zeros(p.shape()));
        });
    }

    /** Updates applied so far (t in the bias corrections). */
    public long updates() {
        return updates;
    }

    /** The first moments by parameter name (for checkpoints). */
    public Map<String, NDArray> firstMoments() {
        return firstMoments;
    }

    /** The second moments by parameter name (for checkpoints). */
    public Map<String, NDArray> secondMoments() {
        return secondMoments;
    }

    /** Restores the state of a checkpoint: the update count and both moments (copied in). */
    public void restore(long updateCount, Map<String, float[]> first, Map<String, float[]> second) {
        this.updates = updateCount;
        copyInto(firstMoments, first, "first moment");
        copyInto(secondMoments, second, "second moment");
    }

    private static void copyInto(Map<String, NDArray> target, Map<String, float[]> values, String what) {
        target.forEach((name, array) -> {
            float[] stored = values.get(name);
            if (stored == null) {
                throw new IllegalArgumentException("checkpoint has no " + what + " for " + name);
            }
            array.set(stored);
        });
    }

    /**
     * Applies one update from the gradients accumulated by the last backward pass, then zeroes them.
     * When the gradients hold a NaN or an infinity (the global norm is not finite), nothing is
     * updated, not even the update count: the step is skipped, as mixed-precision loss scalers do,
     * and {@link #nonFiniteGradients()} names the parameters at fault.
     *
     * @return the global gradient norm before clipping (not finite when the step was skipped)
     */
    public double step(double learningRate) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = manager.newSubManager()) {
            Map<String, NDArray> gradients = new LinkedHashMap<>();
            double squaredNorm = 0;
            for (Map.Entry<String, Parameter> entry : parameters.all().entrySet()) {
                NDArray gradient = entry.getValue().value().getGradient();
                gradient.attach(scope);
                gradients.put(entry.getKey(), gradient);
                squaredNorm += gradient.square().sum().getFloat();
            }
            double norm = Math.sqrt(squaredNorm);
            nonFiniteGradients = List.of();
            if (!Double.isFinite(norm)) {
                List<String> names = new ArrayList<>();
                gradients.forEach((name, gradient) -> {
                    if (!Float.isFinite(gradient.abs().sum().getFloat())) {
                        names.add(name);
                    }
                });
                nonFiniteGradients = List.copyOf(names);
                parameters.all().values().forEach(parameter -> JniUtils.zeroGrad((PtNDArray) parameter.value()));
                return norm;
            }
            float clip = (float) (norm > settings.maxGradientNorm() ? settings.maxGradientNorm() / norm : 1.0);
            updates++;
            double correction1 = 1 - Math.pow(settings.beta1(), updates);
            double correction2 = 1 - Math.pow(settings.beta2(), updates);
            float stepSize = (float) (learningRate / correction1);
            float epsilon = (float) (settings.epsilon() * Math.sqrt(correction2));
            float b1 = (float) settings.beta1();
            float b2 = (float) settings.beta2();
            for (Map.Entry<String, Parameter> entry : parameters.all().entrySet()) {
                String name = entry.getKey();
                NDArray value = entry.getValue().value();
                NDArray m = firstMoments.get(name);
                NDArray v = secondMoments.get(name);
                // results land in the first operand's manager: lend the state to a scope for the update
                try (NDManager perParameter = scope.newSubManager()) {
                    m.tempAttach(perParameter);
                    v.tempAttach(perParameter);
                    value.tempAttach(perParameter);
                    NDArray g = gradients.get(name).mul(clip);
                    m.muli(b1).addi(g.mul(1 - b1));
                    v.muli(b2).addi(g.square().muli(1 - b2));
                    if (TrainableParameters.decays(name, entry.getValue()) && settings.weightDecay() > 0) {
                        value.muli((float) (1 - learningRate * settings.weightDecay()));
                    }
                    // (m / c1) / (sqrt(v / c2) + eps) = (m / c1) * sqrt(c2) / (sqrt(v) + eps sqrt(c2))
                    value.subi(m.div(v.sqrt().addi(epsilon)).muli((float) (stepSize * Math.sqrt(correction2))));
                }
                JniUtils.zeroGrad((PtNDArray) value);
            }
            return norm;
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** The parameters whose gradients were not finite at the last {@link #step}, which was then skipped; empty otherwise. */
    public List<String> nonFiniteGradients() {
        return nonFiniteGradients;
    }

    @Override
    public void close() {
        manager.close();
    }
}
