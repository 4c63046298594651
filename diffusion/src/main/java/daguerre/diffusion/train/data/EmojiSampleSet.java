package daguerre.diffusion.train.data;

import java.util.List;
import java.util.Objects;
import java.util.function.LongFunction;

/**
 * A split of the emoji recipe as an {@link ImageCaptionDataset}: a plan of
 * {@link EmojiSample}s per epoch, rendered on demand. Thread-safe.
 */
public final class EmojiSampleSet implements ImageCaptionDataset {

    private record Plan(long epoch, List<EmojiSample> samples) {}

    private final int imageSize;
    private final LongFunction<List<EmojiSample>> planner;
    private final List<String> captions;
    private final int size;
    private volatile Plan lastPlan;

    EmojiSampleSet(int imageSize, LongFunction<List<EmojiSample>> planner, List<String> captions) {
        if (imageSize <= 0) {
            throw new IllegalArgumentException("imageSize must be positive, got " + imageSize);
        }
        this.imageSize = imageSize;
        this.planner = planner;
        this.captions = List.copyOf(captions);
        this.lastPlan = new Plan(0, List.copyOf(planner.apply(0)));
        this.size = lastPlan.samples().size();
    }

    /**
     * The samples of an epoch, unrendered, in their fixed order: sample {@code i} of
     * {@link #sample(long, int)} is {@code samples(epoch).get(i)} rendered.
     */
    public List<EmojiSample> samples(long epoch) {
        Plan plan = lastPlan;
        if (plan.epoch() != epoch) {
            plan = new Plan(epoch, List.copyOf(planner.apply(epoch)));
            if (plan.samples().size() != size) {
                throw new IllegalStateException("epoch " + epoch + " has " + plan.samples().size()
                        + " samples, epoch 0 has " + size);
            }
            lastPlan = plan;
        }
        return plan.samples();
    }

    @Override
    public int imageSize() {
        return imageSize;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Sample sample(long epoch, int index) {
        List<EmojiSample> samples = samples(epoch);
        return samples.get(Objects.checkIndex(index, samples.size())).render(imageSize);
    }

    @Override
    public List<String> captions() {
        return captions;
    }
}
