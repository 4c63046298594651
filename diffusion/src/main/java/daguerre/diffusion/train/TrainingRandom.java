package daguerre.diffusion.train;

import java.util.SplittableRandom;

/**
 * The trainer's random streams. Each draw comes from a Java generator seeded with a hash of
 * (run seed, stream, step, ...), so it is a pure function of those numbers: the same on every
 * machine, and the same after resuming from a checkpoint. Never the engine's global generator.
 */
public final class TrainingRandom {

    /** Stream of the data order (one permutation per epoch). */
    public static final long DATA_ORDER = 1;
    /** Stream of the diffusion noise. */
    public static final long NOISE = 2;
    /** Stream of the diffusion timesteps and caption drop-out. */
    public static final long TIMESTEPS = 3;
    /** Stream of the VAE's latent sampling noise. */
    public static final long LATENT_SAMPLING = 4;
    /** Stream of the initial weights. */
    public static final long INITIAL_WEIGHTS = 5;

    private TrainingRandom() {}

    /** A 64-bit hash of the seed and the parts (SplitMix64's finaliser applied after each, Steele et al. 2014). */
    public static long mix(long seed, long... parts) {
        long h = finalise(seed ^ 0x9E3779B97F4A7C15L);
        for (long part : parts) {
            h = finalise(h + 0x9E3779B97F4A7C15L + part);
        }
        return h;
    }

    /** A generator seeded with {@link #mix}. */
    public static SplittableRandom generator(long seed, long... parts) {
        return new SplittableRandom(mix(seed, parts));
    }

    /** A uniformly random permutation of 0..size-1 (Fisher-Yates, Knuth TAOCP vol. 2, 3.4.2 P). */
    public static int[] permutation(int size, SplittableRandom random) {
        int[] order = new int[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        for (int i = size - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }

    private static long finalise(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
