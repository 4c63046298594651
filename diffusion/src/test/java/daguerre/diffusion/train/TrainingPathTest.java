package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Attention;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Blocks with trainable weights take plain DJL ops, because DJL runs the fused TorchScript kernels
 * with autograd off: their outputs match the fused inference path and gradients reach every weight.
 */
class TrainingPathTest {

    private static NDArray random(NDManager m, Random rng, long... shape) {
        float[] values = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rng.nextGaussian();
        }
        return m.create(values, new Shape(shape));
    }

    @Test
    void fusedAttentionCarriesNoGradient() {
        try (NDManager m = DjlRuntime.newManager()) {
            Random rng = new Random(1);
            NDArray q = random(m, rng, 1, 2, 5, 4);
            q.setRequiresGradient(true);
            NDArray k = random(m, rng, 1, 2, 5, 4);
            NDArray v = random(m, rng, 1, 2, 5, 4);
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                NDArray plain = Attention.attendUnfused(q.transpose(0, 2, 1, 3).reshape(1, 5, 8),
                        k.transpose(0, 2, 1, 3).reshape(1, 5, 8), v.transpose(0, 2, 1, 3).reshape(1, 5, 8), 2);
                NDArray fused = FusedOps.attention(q, k, v).transpose(0, 2, 1, 3).reshape(1, 5, 8);
                assertTrue(plain.sub(fused).abs().max().getFloat() < 1e-5f);
                collector.backward(plain.sum());
            }
            assertTrue(q.getGradient().abs().sum().getFloat() > 0, "plain attention passes gradients to q");
        }
    }

    @Test
    void trainableAutoencoderMatchesInferenceAndGetsGradientsEverywhere() {
        try (NDManager m = DjlRuntime.newManager()) {
            AutoencoderKL vae = new AutoencoderKL(new VaeConfig(3, 3, List.of(32, 32), 1, 4, 8, 16, 1f));
            Initializers.initialize(vae, 3, m);
            NDArray x = random(m, new Random(2), 2, 3, 16, 16);
            float[] inference = vae.decode(vae.encode(x).mean()).toFloatArray();
            TrainableParameters parameters = TrainableParameters.of(Map.of("vae", vae));
            float[] training;
            try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                NDArray out = vae.decode(vae.encode(x).mean());
                training = out.toFloatArray();
                collector.backward(out.square().mean());
            }
            for (int i = 0; i < inference.length; i++) {
                assertEquals(inference[i], training[i], 1e-4f, "value " + i);
            }
            for (Map.Entry<String, Parameter> entry : parameters.all().entrySet()) {
                float norm = entry.getValue().value().getGradient().abs().sum().getFloat();
                assertTrue(norm > 0, "no gradient reached " + entry.getKey());
            }
        }
    }
}
