package daguerre.diffusion.train.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The emoji recipe of the default model: Twemoji and Noto emoji composited on solid palette
 * backgrounds, captioned {@code {name}, {style} style, on a {colour} background}, with a
 * held-out evaluation split ({@link EmojiSplit}).
 *
 * <p><b>Training epochs.</b> For each style, then each base emoji in emoji.json order that is not
 * held out whole: its default image, then (when it has skin-tone variants) one variant drawn
 * uniformly; each gets a background drawn uniformly from its {@linkplain
 * EmojiSplit#trainingColours training colours}. The draws come from SplitMix64 seeded with
 * {@code combine(seed, epoch)}, in that order, so an epoch's samples are a pure function of
 * (data, seed, epoch). Flags are kept.
 *
 * <p><b>Object-colour repeats.</b> With {@code objectColourRepeats} = n > 1, the default image of
 * each {@linkplain EmojiSplit#isObjectColourName object-colour emoji} ({@code green circle},
 * {@code black large square}, ...) appears n times per epoch, each time on its own background
 * drawn right after its first one. These 33 base emoji are the only ones whose colour the
 * caption names as a separate word, and 1.5% of an epoch at n = 1 on the pinned data: too rare to
 * bind colour words to objects. With n = 1 the epochs are exactly those described above.
 *
 * <p><b>Held-out set.</b> The default image of each wholly held-out emoji in both styles on every
 * palette colour, and the default image of each emoji with a held-out colour in both styles on
 * that colour; ordered by {@code hash("eval:" + id)}, so that any prefix is an unbiased mix.
 * It is the same in every epoch.
 */
public final class EmojiDataset {

    private final EmojiCatalogue catalogue;
    private final EmojiSplit split;
    private final int imageSize;
    private final long seed;
    private final int objectColourRepeats;
    private final EmojiSampleSet train;
    private final EmojiSampleSet heldOut;

    private EmojiDataset(EmojiCatalogue catalogue, int imageSize, long seed, int objectColourRepeats) {
        if (objectColourRepeats < 1) {
            throw new IllegalArgumentException("objectColourRepeats must be at least 1, got " + objectColourRepeats);
        }
        this.catalogue = catalogue;
        this.split = EmojiSplit.of(catalogue);
        this.imageSize = imageSize;
        this.seed = seed;
        this.objectColourRepeats = objectColourRepeats;
        this.train = new EmojiSampleSet(imageSize, this::trainingEpoch, trainingCaptions());
        List<EmojiSample> evaluation = evaluationSamples();
        this.heldOut = new EmojiSampleSet(imageSize, epoch -> evaluation,
                evaluation.stream().map(EmojiSample::caption).distinct().toList());
    }

    /**
     * Loads the catalogue under {@code dataRoot} (the folder {@code fetch-data.sh} fills).
     *
     * @param imageSize the training image side; the PNGs are 64 pixels and are resampled to
     *     other sizes
     * @param seed the seed of the per-epoch draws (skin-tone variant, background colour)
     * @throws DatasetException when the data is missing or malformed
     */
    public static EmojiDataset load(Path dataRoot, int imageSize, long seed) {
        return load(dataRoot, imageSize, seed, 1);
    }

    /**
     * Loads the catalogue with each object-colour emoji {@code objectColourRepeats} times per
     * training epoch (see the class comment).
     */
    public static EmojiDataset load(Path dataRoot, int imageSize, long seed, int objectColourRepeats) {
        return of(EmojiCatalogue.load(dataRoot), imageSize, seed, objectColourRepeats);
    }

    /** The recipe over an already loaded catalogue. */
    public static EmojiDataset of(EmojiCatalogue catalogue, int imageSize, long seed) {
        return of(catalogue, imageSize, seed, 1);
    }

    /** The recipe over an already loaded catalogue, with object-colour repeats. */
    public static EmojiDataset of(EmojiCatalogue catalogue, int imageSize, long seed, int objectColourRepeats) {
        return new EmojiDataset(catalogue, imageSize, seed, objectColourRepeats);
    }

    /** All images and names. */
    public EmojiCatalogue catalogue() {
        return catalogue;
    }

    /** The held-out rule applied to this catalogue. */
    public EmojiSplit split() {
        return split;
    }

    /** The training split: new skin-tone variants and backgrounds every epoch. */
    public EmojiSampleSet train() {
        return train;
    }

    /** The held-out evaluation split: fixed samples, never seen in training. */
    public EmojiSampleSet heldOut() {
        return heldOut;
    }

    /** The object-colour references (mean colour of each coloured heart, circle and square). */
    public List<ObjectColourReference> objectColours() {
        return ObjectColours.references(catalogue);
    }

    /** The training image side. */
    public int imageSize() {
        return imageSize;
    }

    /** The seed of the per-epoch draws. */
    public long seed() {
        return seed;
    }

    private List<EmojiSample> trainingEpoch(long epoch) {
        SplitMix64 random = new SplitMix64(SplitMix64.combine(seed, epoch));
        List<EmojiSample> samples = new ArrayList<>();
        for (EmojiStyle style : EmojiStyle.values()) {
            for (EmojiCatalogue.Group group : catalogue.groups(style).values()) {
                String base = group.defaultImage().baseUnified();
                List<PaletteColour> colours = split.trainingColours(base);
                if (colours.isEmpty()) {
                    continue;
                }
                samples.add(new EmojiSample(group.defaultImage(), colours.get(random.nextInt(colours.size()))));
                if (EmojiSplit.isObjectColourName(group.defaultImage().name())) {
                    for (int repeat = 1; repeat < objectColourRepeats; repeat++) {
                        samples.add(new EmojiSample(group.defaultImage(), colours.get(random.nextInt(colours.size()))));
                    }
                }
                if (!group.variants().isEmpty()) {
                    EmojiImage variant = group.variants().get(random.nextInt(group.variants().size()));
                    samples.add(new EmojiSample(variant, colours.get(random.nextInt(colours.size()))));
                }
            }
        }
        return samples;
    }

    private List<String> trainingCaptions() {
        LinkedHashSet<String> captions = new LinkedHashSet<>();
        for (EmojiImage image : catalogue.images()) {
            for (PaletteColour colour : split.trainingColours(image.baseUnified())) {
                captions.add(EmojiSample.caption(image.name(), image.style(), colour));
            }
        }
        return List.copyOf(captions);
    }

    private List<EmojiSample> evaluationSamples() {
        List<EmojiSample> samples = new ArrayList<>();
        for (EmojiStyle style : EmojiStyle.values()) {
            for (EmojiCatalogue.Group group : catalogue.groups(style).values()) {
                EmojiImage image = group.defaultImage();
                if (split.isHeldOut(image.baseUnified())) {
                    for (PaletteColour colour : PaletteColour.values()) {
                        samples.add(new EmojiSample(image, colour));
                    }
                } else {
                    split.heldOutColour(image.baseUnified())
                            .ifPresent(colour -> samples.add(new EmojiSample(image, colour)));
                }
            }
        }
        samples.sort(Comparator.comparing(
                (EmojiSample sample) -> SplitMix64.hash("eval:" + sample.id()), Long::compareUnsigned));
        return samples;
    }
}
