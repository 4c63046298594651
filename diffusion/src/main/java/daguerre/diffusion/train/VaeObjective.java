package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.train.data.ImageCaptionDataset;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.LatentDistribution;
import java.util.stream.IntStream;

/**
 * Stage 1: the autoencoder's loss on a batch of images x in [-1, 1] (Kingma and Welling 2014;
 * Rombach et al. 2022, without the adversarial and perceptual terms):
 * <pre>
 *   z ~ q(z | x) = N(mean, exp(logvar))           (reparameterised: mean + std * noise)
 *   L = |D(z) - x|_1
 *     + edgeWeight * (|dx D(z) - dx x|_1 + |dy D(z) - dy x|_1)
 *     + klWeight * KL(q(z | x) || N(0, 1))
 * </pre>
 * all terms averaged per value. The edge term (L1 between horizontal and vertical pixel
 * differences) penalises blur at outlines directly; flat-coloured emoji art is mostly outlines, and
 * the term costs four slices per step. The KL term keeps the latent near unit scale and smooth.
 */
public final class VaeObjective implements Trainer.Objective {

    private final AutoencoderKL vae;
    private final ImageCaptionDataset data;
    private final DataOrder order;
    private final int batchSize;
    private final double klWeight;
    private final double edgeWeight;
    private final long seed;

    public VaeObjective(AutoencoderKL vae, ImageCaptionDataset data, int batchSize, double klWeight, double edgeWeight,
                        long seed) {
        this.vae = vae;
        this.data = data;
        this.order = new DataOrder(data.size(), seed);
        this.batchSize = batchSize;
        this.klWeight = klWeight;
        this.edgeWeight = edgeWeight;
        this.seed = seed;
    }

    /** The images of step {@code step}: [B, 3, S, S] in [-1, 1], in {@code manager}. */
    public NDArray images(long step, NDManager manager) {
        DataOrder.Position[] batch = order.batch(step, batchSize);
        int size = data.imageSize();
        int perImage = 3 * size * size;
        float[] values = new float[batchSize * perImage];
        IntStream.range(0, batchSize).parallel().forEach(i -> System.arraycopy(
                Pixels.toUnitRange(data.sample(batch[i].epoch(), batch[i].index()).image()), 0, values, i * perImage, perImage));
        return manager.create(values, new Shape(batchSize, 3, size, size));
    }

    @Override
    public NDArray loss(long step, NDManager scope) {
        NDArray x = images(step, scope);
        LatentDistribution posterior = vae.encode(x);
        long[] rowSeeds = new long[batchSize];
        for (int i = 0; i < batchSize; i++) {
            rowSeeds[i] = TrainingRandom.mix(seed, TrainingRandom.LATENT_SAMPLING, step, i);
        }
        NDArray noise = new SeededNoise(rowSeeds).next(posterior.mean().getShape(), scope);
        NDArray reconstruction = vae.decode(posterior.sample(noise));
        NDArray error = reconstruction.sub(x);                                             // [B, 3, S, S]
        NDArray loss = error.abs().mean();
        if (edgeWeight > 0) {
            // differences of the error along width and height = differences of reconstruction minus those of x
            NDArray alongWidth = error.get(new NDIndex(":, :, :, 1:")).sub(error.get(new NDIndex(":, :, :, :-1")));
            NDArray alongHeight = error.get(new NDIndex(":, :, 1:, :")).sub(error.get(new NDIndex(":, :, :-1, :")));
            loss = loss.add(alongWidth.abs().mean().add(alongHeight.abs().mean()).mul((float) edgeWeight));
        }
        // KL(N(mu, s^2) || N(0, 1)) = 0.5 (mu^2 + s^2 - 1 - log s^2), per latent value
        NDArray mean = posterior.mean();
        NDArray logvar = posterior.logvar();
        NDArray kl = mean.square().add(logvar.exp()).sub(1f).sub(logvar).mul(0.5f).mean();
        return loss.add(kl.mul((float) klWeight));
    }
}
