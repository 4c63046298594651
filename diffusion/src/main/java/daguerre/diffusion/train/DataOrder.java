package daguerre.diffusion.train;

/**
 * The deterministic order in which a stage visits a dataset: epoch after epoch, each a fresh
 * seeded permutation, sample position {@code p = step * batch + row} being index
 * {@code permutation(p / size)[p % size]} of epoch {@code p / size}.
 */
public final class DataOrder {

    /** A sample of one epoch. */
    public record Position(long epoch, int index) {}

    private final int size;
    private final long seed;
    private long cachedEpoch = -1;
    private int[] cachedPermutation;

    /** The order over a dataset of {@code size} samples. */
    public DataOrder(int size, long seed) {
        if (size <= 0) {
            throw new IllegalArgumentException("the dataset is empty");
        }
        this.size = size;
        this.seed = seed;
    }

    /** The sample at {@code position} (counting over all epochs). */
    public Position at(long position) {
        long epoch = position / size;
        return new Position(epoch, permutation(epoch)[(int) (position % size)]);
    }

    /** The batch of {@code batchSize} positions of step {@code step}. */
    public Position[] batch(long step, int batchSize) {
        Position[] out = new Position[batchSize];
        for (int i = 0; i < batchSize; i++) {
            out[i] = at(step * batchSize + i);
        }
        return out;
    }

    /** The permutation of epoch {@code epoch}. */
    public synchronized int[] permutation(long epoch) {
        if (epoch != cachedEpoch) {
            cachedPermutation = TrainingRandom.permutation(size, TrainingRandom.generator(seed, TrainingRandom.DATA_ORDER, epoch));
            cachedEpoch = epoch;
        }
        return cachedPermutation;
    }
}
