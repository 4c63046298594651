package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.train.data.ImageCaptionDataset;
import daguerre.diffusion.train.data.Sample;
import daguerre.diffusion.vae.AutoencoderKL;
import java.util.stream.IntStream;

/**
 * Stage 2's pre-encoded latents: every sample of one epoch encoded by the frozen autoencoder (the
 * posterior mean, times the scaling factor), with its caption. The dataset may change between
 * epochs (new backgrounds), so the cache holds one epoch and re-encodes when asked for another; a
 * resumed run re-encodes its epoch identically.
 */
public final class LatentCache {

    /** Images encoded per autoencoder call. */
    static final int ENCODE_BATCH = 32;

    private final AutoencoderKL vae;
    private final ImageCaptionDataset data;
    private final NDManager manager;
    private final float scalingFactor;
    private long epoch = -1;
    private float[][] latents;
    private String[] captions;

    public LatentCache(AutoencoderKL vae, ImageCaptionDataset data, NDManager manager, float scalingFactor) {
        this.vae = vae;
        this.data = data;
        this.manager = manager;
        this.scalingFactor = scalingFactor;
    }

    /** The scaled latent of sample {@code index} of {@code epoch}, [4 * h * w] values. */
    public synchronized float[] latent(long epoch, int index) {
        load(epoch);
        return latents[index];
    }

    /** The caption of sample {@code index} of {@code epoch}. */
    public synchronized String caption(long epoch, int index) {
        load(epoch);
        return captions[index];
    }

    private void load(long wanted) {
        if (wanted == epoch) {
            return;
        }
        int size = data.size();
        float[][] encoded = new float[size][];
        String[] text = new String[size];
        for (int start = 0; start < size; start += ENCODE_BATCH) {
            int count = Math.min(ENCODE_BATCH, size - start);
            int first = start;
            Sample[] samples = new Sample[count];
            IntStream.range(0, count).parallel().forEach(i -> samples[i] = data.sample(wanted, first + i));
            float[][] raw = encodeMeans(vae, samples, manager);
            for (int i = 0; i < count; i++) {
                for (int j = 0; j < raw[i].length; j++) {
                    raw[i][j] *= scalingFactor;
                }
                encoded[first + i] = raw[i];
                text[first + i] = samples[i].caption();
            }
        }
        latents = encoded;
        captions = text;
        epoch = wanted;
    }

    /** The raw (unscaled) posterior means of {@code samples}, one float array per sample. */
    public static float[][] encodeMeans(AutoencoderKL vae, Sample[] samples, NDManager manager) {
        int size = samples[0].image().getWidth();
        int perImage = 3 * size * size;
        float[] pixels = new float[samples.length * perImage];
        for (int i = 0; i < samples.length; i++) {
            System.arraycopy(Pixels.toUnitRange(samples[i].image()), 0, pixels, i * perImage, perImage);
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = scope.create(pixels, new Shape(samples.length, 3, size, size));
            NDArray mean = vae.encode(x).mean();
            float[] flat = mean.toFloatArray();
            int perLatent = flat.length / samples.length;
            float[][] out = new float[samples.length][perLatent];
            for (int i = 0; i < samples.length; i++) {
                System.arraycopy(flat, i * perLatent, out[i], 0, perLatent);
            }
            return out;
        }
    }

    /**
     * The scaling factor that gives the latents unit standard deviation (as SD's 0.18215 was chosen):
     * 1 / std over the first {@code count} samples of epoch 0.
     */
    public static float unitScalingFactor(AutoencoderKL vae, ImageCaptionDataset data, int count, NDManager manager) {
        int n = Math.min(count, data.size());
        double sum = 0;
        double squares = 0;
        long values = 0;
        for (int start = 0; start < n; start += ENCODE_BATCH) {
            int batch = Math.min(ENCODE_BATCH, n - start);
            int first = start;
            Sample[] samples = new Sample[batch];
            IntStream.range(0, batch).parallel().forEach(i -> samples[i] = data.sample(0, first + i));
            for (float[] latent : encodeMeans(vae, samples, manager)) {
                for (float v : latent) {
                    sum += v;
                    squares += (double) v * v;
                    values++;
                }
            }
        }
        double mean = sum / values;
        double std = Math.sqrt(Math.max(squares / values - mean * mean, 1e-12));
        return (float) (1.0 / std);
    }
}
