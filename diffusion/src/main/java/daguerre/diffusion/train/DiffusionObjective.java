package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.unet.UNet2DConditionModel;
import java.util.SplittableRandom;

/**
 * Stage 2: the epsilon objective of DDPM (Ho et al. 2020, eq. (14), the "simple" loss) on
 * pre-encoded latents, with the text encoder trained jointly through the U-Net's cross-attention:
 * <pre>
 *   t ~ U{0, ..., T-1},  eps ~ N(0, I)
 *   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
 *   L = || eps - UNet(x_t, t, TextEncoder(caption)) ||^2     (mean per value)
 * </pre>
 * A fraction of captions is replaced by the empty text, so that the same network also predicts
 * the unconditional noise that classifier-free guidance needs (Ho and Salimans 2022).
 */
public final class DiffusionObjective implements Trainer.Objective {

    private final UNet2DConditionModel unet;
    private final ClipTextModel textEncoder;
    private final ClipTokenizer tokenizer;
    private final LatentCache latents;
    private final DataOrder order;
    private final int batchSize;
    private final float[] alphasCumprod;
    private final double emptyCaptionRate;
    private final long seed;

    /**
     * @param datasetSize samples per epoch
     * @param alphasCumprod abar_t for t = 0 .. T-1 (the scheduler's training schedule)
     */
    public DiffusionObjective(UNet2DConditionModel unet, ClipTextModel textEncoder, ClipTokenizer tokenizer, LatentCache latents,
                              int datasetSize, int batchSize, float[] alphasCumprod, double emptyCaptionRate, long seed) {
        this.unet = unet;
        this.textEncoder = textEncoder;
        this.tokenizer = tokenizer;
        this.latents = latents;
        this.order = new DataOrder(datasetSize, seed);
        this.batchSize = batchSize;
        this.alphasCumprod = alphasCumprod.clone();
        this.emptyCaptionRate = emptyCaptionRate;
        this.seed = seed;
    }

    @Override
    public NDArray loss(long step, NDManager scope) {
        DataOrder.Position[] batch = order.batch(step, batchSize);
        SplittableRandom random = TrainingRandom.generator(seed, TrainingRandom.TIMESTEPS, step);
        int length = tokenizer.maxLength();
        float[] first = latents.latent(batch[0].epoch(), batch[0].index());
        float[] x0 = new float[batchSize * first.length];
        long[] ids = new long[batchSize * length];
        float[] timesteps = new float[batchSize];
        float[] signal = new float[batchSize];
        float[] noiseScale = new float[batchSize];
        long[] rowSeeds = new long[batchSize];
        for (int i = 0; i < batchSize; i++) {
            System.arraycopy(latents.latent(batch[i].epoch(), batch[i].index()), 0, x0, i * first.length, first.length);
            int t = random.nextInt(alphasCumprod.length);
            boolean dropCaption = random.nextDouble() < emptyCaptionRate;
            String caption = dropCaption ? "" : latents.caption(batch[i].epoch(), batch[i].index());
            int[] tokens = tokenizer.encode(caption, length);
            for (int j = 0; j < length; j++) {
                ids[i * length + j] = tokens[j];
            }
            timesteps[i] = t;
            signal[i] = (float) Math.sqrt(alphasCumprod[t]);
            noiseScale[i] = (float) Math.sqrt(1 - alphasCumprod[t]);
            rowSeeds[i] = TrainingRandom.mix(seed, TrainingRandom.NOISE, step, i);
        }
        Shape latentShape = unetShape(first.length);
        NDArray clean = scope.create(x0, latentShape);                                         // [B, 4, h, w]
        NDArray noise = new SeededNoise(rowSeeds).next(latentShape, scope);                    // [B, 4, h, w]
        NDArray noisy = clean.mul(scope.create(signal, new Shape(batchSize, 1, 1, 1)))
                .add(noise.mul(scope.create(noiseScale, new Shape(batchSize, 1, 1, 1))));
        NDArray context = textEncoder.lastHiddenState(scope.create(ids, new Shape(batchSize, length)));   // [B, 77, D]
        NDArray predicted = unet.forward(noisy, timesteps, context);
        return predicted.sub(noise).square().mean();
    }

    private Shape unetShape(int perSample) {
        int channels = unet.config().inChannels();
        int side = (int) Math.round(Math.sqrt(perSample / (double) channels));
        if (channels * side * side != perSample) {
            throw new IllegalStateException("latents of " + perSample + " values are not square with " + channels + " channels");
        }
        return new Shape(batchSize, channels, side, side);
    }
}
