package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Linear;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW, the EMA, the learning-rate schedule and the data order against hand-computed values. */
class OptimisationTest {

    @Test
    void scheduleWarmsUpLinearlyThenFollowsTheCosine() {
        LearningRateSchedule schedule = new LearningRateSchedule(1.0, 10, 110, 0.1);
        assertEquals(0.1, schedule.at(0), 1e-12);
        assertEquals(1.0, schedule.at(9), 1e-12);
        assertEquals(1.0, schedule.at(10), 1e-12);
        assertEquals(0.55, schedule.at(60), 1e-12);
        assertEquals(0.1, schedule.at(110), 1e-12);
        assertEquals(0.1, schedule.at(500), 1e-12);
    }

    @Test
    void adamwMatchesTheAlgorithmWithDecoupledDecayAndClipping() {
        try (NDManager manager = DjlRuntime.newManager()) {
            Linear layer = twoInputLayer(manager);
            TrainableParameters parameters = TrainableParameters.of(Map.of("layer", layer));
            double maxNorm = 1.0;
            AdamW adam = new AdamW(parameters, new AdamW.Settings(0.9, 0.999, 1e-8, 0.1, maxNorm), manager);
            // loss = sum(W x + b) with x = (3, 4): dL/dW = (3, 4), dL/db = 1, norm sqrt(26)
            NDArray x = manager.create(new float[] {3f, 4f}, new ai.djl.ndarray.types.Shape(1, 2));
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                collector.backward(trainingPass(layer, x).sum());
            }
            double norm = adam.step(0.01);
            assertEquals(Math.sqrt(26), norm, 1e-5);
            // first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g)
            float[] weight = parameters.value("layer.weight").toFloatArray();
            assertEquals(1.0 * (1 - 0.01 * 0.1) - 0.01, weight[0], 1e-6);
            assertEquals(-2.0 * (1 - 0.01 * 0.1) - 0.01, weight[1], 1e-6);
            assertEquals(0.5 - 0.01, parameters.value("layer.bias").toFloatArray()[0], 1e-6, "biases are not decayed");
            float[] clipped = adam.firstMoments().get("layer.weight").toFloatArray();
            assertEquals(0.1 * 3 / Math.sqrt(26), clipped[0], 1e-6, "moments see the clipped gradient");
            assertEquals(0f, parameters.value("layer.weight").getGradient().abs().sum().getFloat(), "gradients zeroed");
        }
    }

    @Test
    void adamwSkipsAStepWithANonFiniteGradientAndNamesTheParameter() {
        try (NDManager manager = DjlRuntime.newManager()) {
            Linear layer = twoInputLayer(manager);
            TrainableParameters parameters = TrainableParameters.of(Map.of("layer", layer));
            AdamW adam = new AdamW(parameters, new AdamW.Settings(0.9, 0.999, 1e-8, 0.1, 1.0), manager);
            // d/dW of sum(W x + b) is x: a NaN in x reaches the weight's gradient, not the bias's
            NDArray x = manager.create(new float[] {Float.NaN, 4f}, new ai.djl.ndarray.types.Shape(1, 2));
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                collector.backward(trainingPass(layer, x).sum());
            }
            double norm = adam.step(0.01);
            assertTrue(Double.isNaN(norm));
            assertEquals(java.util.List.of("layer.weight"), adam.nonFiniteGradients());
            assertEquals(0, adam.updates(), "a skipped step is not an update");
            assertArrayEquals(new float[] {1f, -2f}, parameters.value("layer.weight").toFloatArray());
            assertArrayEquals(new float[] {0.5f}, parameters.value("layer.bias").toFloatArray());
            assertEquals(0f, adam.firstMoments().get("layer.weight").abs().sum().getFloat(), "moments untouched");
            assertEquals(0f, parameters.value("layer.bias").getGradient().abs().sum().getFloat(), "gradients zeroed");

            // the next, finite step is applied as a first update
            NDArray finite = manager.create(new float[] {3f, 4f}, new ai.djl.ndarray.types.Shape(1, 2));
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                collector.backward(trainingPass(layer, finite).sum());
            }
            assertEquals(Math.sqrt(26), adam.step(0.01), 1e-5);
            assertEquals(java.util.List.of(), adam.nonFiniteGradients());
            assertEquals(1, adam.updates());
        }
    }

    /** A forward pass of a module on its own goes through {@link Kernels#run}, as a network's does, so that it records gradients. */
    private static NDArray trainingPass(Linear layer, NDArray x) {
        return Kernels.ALL.run(layer, () -> layer.forward(x));
    }

    /** y = (1, -2) . x + 0.5 */
    private static Linear twoInputLayer(NDManager manager) {
        Linear layer = new Linear(2, 1, true);
        layer.namedParameters().get("weight").set(manager.create(new float[] {1f, -2f}, new ai.djl.ndarray.types.Shape(1, 2)));
        layer.namedParameters().get("bias").set(manager.create(new float[] {0.5f}));
        return layer;
    }

    @Test
    void emaWarmsUpThenFollowsTheWeights() {
        try (NDManager manager = DjlRuntime.newManager()) {
            Linear layer = new Linear(1, 1, false);
            layer.namedParameters().get("weight").set(manager.create(new float[] {0f}, new ai.djl.ndarray.types.Shape(1, 1)));
            TrainableParameters parameters = TrainableParameters.of(Map.of("l", layer));
            ExponentialMovingAverage ema = new ExponentialMovingAverage(parameters, 0.99, manager);
            assertEquals(2.0 / 11, ema.decayAt(1), 1e-12);
            assertEquals(0.99, ema.decayAt(10_000), 1e-12);
            parameters.value("l.weight").set(new float[] {1f});
            ema.update(1);
            assertEquals(1 - 2.0 / 11, ema.averages().get("l.weight").toFloatArray()[0], 1e-6);
        }
    }

    @Test
    void dataOrderIsASeededPermutationPerEpoch() {
        DataOrder order = new DataOrder(10, 42);
        int[] epoch0 = order.permutation(0).clone();
        int[] epoch1 = order.permutation(1).clone();
        assertArrayEquals(epoch0, new DataOrder(10, 42).permutation(0));
        assertNotEquals(java.util.Arrays.toString(epoch0), java.util.Arrays.toString(epoch1));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, java.util.Arrays.stream(epoch0).sorted().toArray());
        DataOrder.Position[] batch = order.batch(3, 4);   // positions 12..15: epoch 1, slots 2..5
        assertEquals(1, batch[0].epoch());
        assertEquals(epoch1[2], batch[0].index());
        assertEquals(epoch1[5], batch[3].index());
    }
}
