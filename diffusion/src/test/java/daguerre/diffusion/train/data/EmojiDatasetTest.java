package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmojiDatasetTest {

    @TempDir
    static Path root;

    static EmojiDataset dataset;

    @BeforeAll
    static void writeData() {
        SyntheticEmojiData.write(root);
        dataset = EmojiDataset.load(root, 64, 42);
    }

    @Test
    void catalogueFollowsEmojiJson() {
        EmojiCatalogue catalogue = dataset.catalogue();
        assertEquals(SyntheticEmojiData.BASE_COUNT, catalogue.baseEmoji().size());
        assertEquals(100, catalogue.groups(EmojiStyle.TWEMOJI).size());
        assertEquals(99, catalogue.groups(EmojiStyle.NOTO).size(), "grinning face has no Noto image");
        assertEquals(107, catalogue.images(EmojiStyle.TWEMOJI).size());
        assertEquals(106, catalogue.images(EmojiStyle.NOTO).size());
        assertEquals(213, catalogue.images().size());
        assertEquals(14, catalogue.images().stream().filter(EmojiImage::toned).count());
        assertEquals(2, catalogue.images().stream().filter(EmojiImage::flag).count());

        EmojiCatalogue.Group santa = catalogue.group(EmojiStyle.NOTO, "1F385").orElseThrow();
        assertEquals("santa claus", santa.defaultImage().name());
        assertEquals(5, santa.variants().size());
        EmojiImage light = santa.variants().get(0);
        assertEquals("santa claus light skin tone", light.name());
        assertEquals("1F385", light.baseUnified());
        assertEquals("1F385-1F3FB", light.unified());
        assertTrue(light.file().endsWith(Path.of("emoji-datasource-google", "img", "google", "64", "1f385-1f3fb.png")));
        assertEquals("handshake dark skin tone light skin tone",
                catalogue.group(EmojiStyle.TWEMOJI, "1FAF1-200D-1FAF2").orElseThrow().variants().get(1).name());
    }

    @Test
    void namesComeFromCharsJsonElseEmojiJson() {
        EmojiCatalogue catalogue = dataset.catalogue();
        assertEquals("red heart", catalogue.group(EmojiStyle.TWEMOJI, "2764-FE0F").orElseThrow().defaultImage().name());
        assertEquals("flag japan", catalogue.group(EmojiStyle.NOTO, "1F1EF-1F1F5").orElseThrow().defaultImage().name());
        assertEquals("emoji modifier fitzpatrick type-1-2",
                catalogue.group(EmojiStyle.NOTO, "1F3FB").orElseThrow().defaultImage().name());
    }

    @Test
    void captionsFollowTheRecipe() {
        EmojiImage heart = dataset.catalogue().findByName(EmojiStyle.NOTO, "red heart").orElseThrow();
        EmojiSample sample = new EmojiSample(heart, PaletteColour.BLUE);
        assertEquals("red heart, noto style, on a blue background", sample.caption());
        assertEquals("noto/2764-fe0f.png@blue", sample.id());
        assertEquals("red heart, twemoji style, on a gray background",
                EmojiSample.caption("red heart", EmojiStyle.TWEMOJI, PaletteColour.GRAY));
    }

    @Test
    void splitHoldsOutWholeEmojiAndColourPairs() {
        EmojiSplit split = dataset.split();
        // round(3% of 100) whole emoji: the star (always held out), then two by hash.
        assertEquals(3, split.heldOutEmoji().size());
        assertTrue(split.isHeldOut("2B50"), "the star is always held out");
        for (String base : split.heldOutEmoji()) {
            String name = nameOf(base);
            assertFalse(EmojiSplit.isObjectColourName(name), name + " is an object-colour emoji");
            assertTrue(split.trainingColours(base).isEmpty());
        }
        // Half of the other 97 emoji lose one colour, each colour equally often (48 = 4 x 10 + 8).
        assertEquals(48, split.heldOutColours().size());
        Map<PaletteColour, Integer> perColour = new EnumMap<>(PaletteColour.class);
        split.heldOutColours().forEach((base, colour) -> {
            assertFalse(split.isHeldOut(base));
            assertEquals(9, split.trainingColours(base).size());
            assertFalse(split.trainingColours(base).contains(colour));
            assertFalse(split.isTrainingPair(base, colour));
            perColour.merge(colour, 1, Integer::sum);
        });
        assertEquals(10, perColour.size());
        perColour.values().forEach(count -> assertTrue(count == 4 || count == 5, perColour.toString()));

        // The split is a function of the data only, never of the training seed.
        EmojiDataset reseeded = EmojiDataset.of(dataset.catalogue(), 32, 7);
        assertEquals(split.heldOutEmoji(), reseeded.split().heldOutEmoji());
        assertEquals(split.heldOutColours(), reseeded.split().heldOutColours());
    }

    @Test
    void objectColourNames() {
        assertTrue(EmojiSplit.isObjectColourName("red heart"));
        assertTrue(EmojiSplit.isObjectColourName("black medium small square"));
        assertTrue(EmojiSplit.isObjectColourName("brown circle"));
        assertFalse(EmojiSplit.isObjectColourName("pink heart"));
        assertFalse(EmojiSplit.isObjectColourName("red apple"));
        assertFalse(EmojiSplit.isObjectColourName("heart suit"));
    }

    @Test
    void trainingEpochsKeepDefaultsAndOneTonePerEmoji() {
        EmojiSampleSet train = dataset.train();
        EmojiSplit split = dataset.split();
        int expectedSize = 0;
        int expectedToned = 0;
        for (EmojiStyle style : EmojiStyle.values()) {
            for (EmojiCatalogue.Group group : dataset.catalogue().groups(style).values()) {
                if (!split.isHeldOut(group.defaultImage().baseUnified())) {
                    expectedSize++;
                    expectedToned += group.variants().isEmpty() ? 0 : 1;
                }
            }
        }
        expectedSize += expectedToned;
        assertEquals(expectedSize, train.size());

        Set<String> santaVariants = new HashSet<>();
        Set<PaletteColour> colours = EnumSet.noneOf(PaletteColour.class);
        for (long epoch = 0; epoch < 8; epoch++) {
            List<EmojiSample> samples = train.samples(epoch);
            assertEquals(expectedSize, samples.size());
            Map<String, Integer> defaults = new HashMap<>();
            Map<String, Integer> toned = new HashMap<>();
            for (EmojiSample sample : samples) {
                EmojiImage image = sample.image();
                String key = image.style() + " " + image.baseUnified();
                (image.toned() ? toned : defaults).merge(key, 1, Integer::sum);
                assertTrue(split.isTrainingPair(image.baseUnified(), sample.background()),
                        "held-out pair in training: " + sample.id());
                colours.add(sample.background());
                if (image.toned() && image.baseUnified().equals("1F385")) {
                    santaVariants.add(image.unified());
                }
            }
            defaults.values().forEach(count -> assertEquals(1, count));
            toned.values().forEach(count -> assertEquals(1, count));
            assertEquals(expectedToned, toned.size());
            assertTrue(expectedToned >= 2, "the synthetic data keeps toned emoji in training");
        }
        assertEquals(EnumSet.allOf(PaletteColour.class), colours);
        assertTrue(santaVariants.size() > 1, "a new skin tone is drawn each epoch: " + santaVariants);
    }

    @Test
    void epochsAreDeterministicInSeedAndEpoch() {
        EmojiDataset same = EmojiDataset.of(dataset.catalogue(), 64, 42);
        EmojiDataset other = EmojiDataset.of(dataset.catalogue(), 64, 43);
        assertEquals(dataset.train().samples(3), same.train().samples(3));
        assertEquals(dataset.train().samples(0), same.train().samples(0));
        assertNotEquals(dataset.train().samples(3), other.train().samples(3));
        assertNotEquals(dataset.train().samples(3), dataset.train().samples(4));
        Sample rendered = dataset.train().sample(3, 17);
        EmojiSample planned = same.train().samples(3).get(17);
        assertEquals(planned.caption(), rendered.caption());
        assertEquals(planned.id(), rendered.id());
        assertThrows(IndexOutOfBoundsException.class, () -> dataset.train().sample(0, dataset.train().size()));
    }

    @Test
    void objectColourRepeatsAddDrawsOfTheObjectColourEmojiOnly() {
        EmojiDataset repeated = EmojiDataset.of(dataset.catalogue(), 64, 42, 4);
        for (long epoch : new long[] {0, 5}) {
            List<EmojiSample> plain = dataset.train().samples(epoch);
            List<EmojiSample> samples = repeated.train().samples(epoch);
            List<EmojiSample> objects = samples.stream().filter(s -> EmojiSplit.isObjectColourName(s.image().name())).toList();
            long plainObjects = plain.stream().filter(s -> EmojiSplit.isObjectColourName(s.image().name())).count();
            assertTrue(plainObjects > 0);
            assertEquals(4 * plainObjects, objects.size());
            assertEquals(plain.size() + 3 * plainObjects, samples.size());
            assertEquals(otherSlots(plain), otherSlots(samples), "the other emoji keep their places (the draws move on)");
            Map<EmojiImage, Set<PaletteColour>> backgrounds = new HashMap<>();
            for (EmojiSample sample : objects) {
                assertTrue(dataset.split().isTrainingPair(sample.image().baseUnified(), sample.background()), sample.caption());
                backgrounds.computeIfAbsent(sample.image(), k -> new HashSet<>()).add(sample.background());
            }
            assertTrue(backgrounds.values().stream().anyMatch(colours -> colours.size() > 1),
                    "each repeat draws its own background");
        }
        assertEquals(dataset.train().samples(3), EmojiDataset.of(dataset.catalogue(), 64, 42, 1).train().samples(3),
                "one repeat is the plain recipe");
        assertThrows(IllegalArgumentException.class, () -> EmojiDataset.of(dataset.catalogue(), 64, 42, 0));
    }

    /** The non-object-colour samples as "style base [toned]", i.e. without the drawn variant and background. */
    private static List<String> otherSlots(List<EmojiSample> samples) {
        return samples.stream().filter(s -> !EmojiSplit.isObjectColourName(s.image().name()))
                .map(s -> s.image().style() + " " + s.image().baseUnified() + (s.image().toned() ? " toned" : "")).toList();
    }

    @Test
    void captionListsSeparateTrainingFromHeldOut() {
        Set<String> training = new HashSet<>(dataset.train().captions());
        Set<String> heldOut = new HashSet<>(dataset.heldOut().captions());
        assertEquals(dataset.heldOut().size(), heldOut.size());
        for (String caption : heldOut) {
            assertFalse(training.contains(caption), caption);
        }
        assertTrue(training.contains("santa claus medium dark skin tone, noto style, on a "
                + firstTrainingColour("1F385").label() + " background"));
        EmojiSplit split = dataset.split();
        for (EmojiSample sample : dataset.train().samples(5)) {
            assertTrue(training.contains(sample.caption()), sample.caption());
        }
        long expected = 0;
        for (EmojiImage image : dataset.catalogue().images()) {
            expected += split.trainingColours(image.baseUnified()).size();
        }
        assertEquals(expected, training.size());
    }

    @Test
    void heldOutSetHasWholeEmojiOnEveryColourAndTheHeldOutPairs() {
        EmojiSplit split = dataset.split();
        List<EmojiSample> samples = dataset.heldOut().samples(0);
        assertEquals(samples, dataset.heldOut().samples(9), "the held-out set never changes");
        int expected = 0;
        for (EmojiStyle style : EmojiStyle.values()) {
            for (String base : dataset.catalogue().groups(style).keySet()) {
                expected += split.isHeldOut(base) ? 10 : split.heldOutColour(base).isPresent() ? 1 : 0;
            }
        }
        assertEquals(expected, samples.size());
        for (EmojiSample sample : samples) {
            assertFalse(sample.image().toned());
            assertFalse(split.isTrainingPair(sample.image().baseUnified(), sample.background()), sample.id());
        }
        assertEquals(samples.size(), samples.stream().map(EmojiSample::id).distinct().count());
    }

    @Test
    void rendersCompositeOnTheBackground() {
        EmojiImage heart = dataset.catalogue().findByName(EmojiStyle.TWEMOJI, "red heart").orElseThrow();
        BufferedImage image = new EmojiSample(heart, PaletteColour.GREEN).render(64).image();
        assertEquals(64, image.getWidth());
        assertEquals(PaletteColour.GREEN.rgb(), image.getRGB(0, 0) & 0xffffff);
        assertEquals(0xdd2e44, image.getRGB(32, 32) & 0xffffff);
        // Alpha 128 frame: round((128 * fg + 127 * bg) / 255) per channel.
        int frame = image.getRGB(SyntheticEmojiData.FRAME, 32);
        assertEquals((128 * 0xdd + 127 * 40 + 127) / 255, (frame >> 16) & 0xff);
        assertEquals((128 * 0x2e + 127 * 170 + 127) / 255, (frame >> 8) & 0xff);
        assertEquals((128 * 0x44 + 127 * 70 + 127) / 255, frame & 0xff);

        EmojiDataset small = EmojiDataset.of(dataset.catalogue(), 32, 42);
        Sample sample = small.train().sample(0, 0);
        assertEquals(32, sample.image().getWidth());
        assertEquals(32, sample.image().getHeight());
        assertEquals(small.train().samples(0).get(0).background().rgb(), sample.image().getRGB(0, 0) & 0xffffff);
    }

    @Test
    void objectColourReferencesAreOpaqueMeans() {
        List<ObjectColourReference> references = dataset.objectColours();
        // red heart, red square, blue heart, blue circle, black square, white square; both styles.
        assertEquals(12, references.size());
        ObjectColourReference black = references.stream()
                .filter(r -> r.colour().equals("black") && r.shape().equals("square") && r.style() == EmojiStyle.NOTO)
                .findFirst().orElseThrow();
        assertEquals("black large square", black.name());
        assertEquals(new Srgb(0x31, 0x37, 0x3d), black.meanColour());
        ObjectColourReference red = references.get(0);
        assertEquals("red heart", red.name());
        assertEquals(EmojiStyle.TWEMOJI, red.style());
        assertEquals(new Srgb(0xdd, 0x2e, 0x44), red.meanColour());
        assertEquals(PaletteColour.RED, PaletteColour.nearest(red.meanColour()));
        assertEquals("red heart, twemoji style, on a white background", red.caption(PaletteColour.WHITE));
    }

    @Test
    void missingDataIsReported(@TempDir Path empty) throws IOException {
        DatasetException noNames = assertThrows(DatasetException.class, () -> EmojiCatalogue.load(empty));
        assertTrue(noNames.getMessage().contains("chars.json"), noNames.getMessage());

        SyntheticEmojiData.write(empty);
        Files.delete(empty.resolve("emoji-datasource-google/emoji.json"));
        DatasetException noJson = assertThrows(DatasetException.class, () -> EmojiCatalogue.load(empty));
        assertTrue(noJson.getMessage().contains("fetch-data.sh"), noJson.getMessage());

        SyntheticEmojiData.write(empty);
        Files.delete(empty.resolve("emoji-datasource-twitter/img/twitter/64/1f385-1f3fc.png"));
        DatasetException noImage = assertThrows(DatasetException.class, () -> EmojiCatalogue.load(empty));
        assertTrue(noImage.getMessage().contains("1f385-1f3fc.png"), noImage.getMessage());
        assertTrue(noImage.getMessage().contains("skin variation 1F3FC"), noImage.getMessage());
    }

    private static String nameOf(String base) {
        return dataset.catalogue().group(EmojiStyle.TWEMOJI, base).orElseThrow().defaultImage().name();
    }

    private static PaletteColour firstTrainingColour(String base) {
        return dataset.split().trainingColours(base).get(0);
    }
}
