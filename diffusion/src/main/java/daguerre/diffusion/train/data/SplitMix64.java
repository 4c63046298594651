package daguerre.diffusion.train.data;

import java.nio.charset.StandardCharsets;

/**
 * SplitMix64 (Steele, Lea and Flood 2014), written out so that the data plan is the same on every
 * JVM, and a stable 64-bit hash of strings built on it.
 */
final class SplitMix64 {

    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

    private long state;

    SplitMix64(long seed) {
        this.state = seed;
    }

    long nextLong() {
        state += GOLDEN_GAMMA;
        return mix(state);
    }

    /** Uniform in [0, bound), by rejection so that every value is equally likely. */
    int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        long limit = Long.MAX_VALUE - Long.MAX_VALUE % bound;
        while (true) {
            long value = nextLong() >>> 1;
            if (value < limit) {
                return (int) (value % bound);
            }
        }
    }

    /** The SplitMix64 output function (a bijective 64-bit finaliser). */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** A seed for one stream from two numbers, e.g. (training seed, epoch). */
    static long combine(long first, long second) {
        return mix(mix(first) + GOLDEN_GAMMA * (second + 1));
    }

    /** A stable hash of a string: 64-bit FNV-1a over its UTF-8 bytes, then {@link #mix}. */
    static long hash(String text) {
        long h = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h);
    }
}
