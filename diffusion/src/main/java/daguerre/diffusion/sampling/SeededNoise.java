package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/**
 * Reproducible noise from Java generators, one per batch row: row i draws only from a
 * {@link java.util.Random} seeded with {@code seeds[i]}, so image i gets the same numbers whatever the batch
 * size or its position in it, on any machine and JVM.
 *
 * <p>Normal deviates use the Marsaglia polar method (Knuth, TAOCP vol. 2, 3.4.1 C) over
 * {@link Random#nextDouble()}, with {@link StrictMath} so the numbers are fully specified here, each pair
 * used in order; values are rounded to float32.
 */
public final class SeededNoise implements NoiseSource {

    private final long[] seeds;
    private final Random[] generators;
    private final double[] spare;
    private final boolean[] hasSpare;

    /** One generator per batch row, seeded with {@code seeds[row]}. */
    public SeededNoise(long... seeds) {
        if (seeds.length == 0) {
            throw new IllegalArgumentException("at least one seed is needed");
        }
        this.seeds = seeds.clone();
        this.generators = new Random[seeds.length];
        for (int i = 0; i < seeds.length; i++) {
            generators[i] = new Random(seeds[i]);
        }
        this.spare = new double[seeds.length];
        this.hasSpare = new boolean[seeds.length];
    }

    /** Rows seeded {@code firstSeed, firstSeed + 1, ...}: image i of a request uses seed + i. */
    public static SeededNoise consecutive(long firstSeed, int rows) {
        long[] seeds = new long[rows];
        for (int i = 0; i < rows; i++) {
            seeds[i] = firstSeed + i;
        }
        return new SeededNoise(seeds);
    }

    /** The seed of each row. */
    public long[] seeds() {
        return seeds.clone();
    }

    @Override
    public NDArray next(Shape shape, NDManager manager) {
        if (shape.dimension() < 1 || shape.get(0) != generators.length) {
            throw new IllegalArgumentException("noise shape " + shape + " does not have " + generators.length
                    + " rows, one per seed");
        }
        long perRowLong = shape.size() / generators.length;
        if (shape.size() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("noise shape " + shape + " is too large");
        }
        int perRow = (int) perRowLong;
        float[] values = new float[perRow * generators.length];
        for (int row = 0; row < generators.length; row++) {
            for (int i = 0; i < perRow; i++) {
                values[row * perRow + i] = (float) nextGaussian(row);
            }
        }
        return manager.create(values, shape);
    }

    private double nextGaussian(int row) {
        if (hasSpare[row]) {
            hasSpare[row] = false;
            return spare[row];
        }
        Random random = generators[row];
        double u;
        double v;
        double s;
        do {
            u = 2 * random.nextDouble() - 1;
            v = 2 * random.nextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double factor = StrictMath.sqrt(-2 * StrictMath.log(s) / s);
        spare[row] = v * factor;
        hasSpare[row] = true;
        return u * factor;
    }
}
