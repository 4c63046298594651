package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * Checks the recipe on the real, pinned data that {@code weights/default/fetch-data.sh} fetches
 * (emoji-datasource-twitter/google 16.0.0, @iconify-json/twemoji 1.2.5). Skipped only when that
 * folder is absent (set {@code -Ddaguerre.emoji.data=DIR} to point elsewhere).
 */
@EnabledIf(value = "dataPresent", disabledReason = "no emoji data: run weights/default/fetch-data.sh")
class RealEmojiDataTest {

    static EmojiDataset dataset;

    static Path dataRoot() {
        return Path.of(System.getProperty("daguerre.emoji.data", "../weights/default/data"));
    }

    static boolean dataPresent() {
        return Files.isDirectory(dataRoot());
    }

    @BeforeAll
    static void load() {
        dataset = EmojiDataset.load(dataRoot(), 64, 0);
    }

    @Test
    void countsMatchThePinnedPackages() {
        EmojiCatalogue catalogue = dataset.catalogue();
        for (EmojiStyle style : EmojiStyle.values()) {
            List<EmojiImage> images = catalogue.images(style);
            assertEquals(3786, images.size(), style + " images");
            assertEquals(1911, catalogue.groups(style).size(), style + " base emoji");
            assertEquals(1875, images.stream().filter(EmojiImage::toned).count(), style + " toned variants");
            assertEquals(270, images.stream().filter(EmojiImage::flag).count(), style + " flags");
        }
        assertEquals(1911, catalogue.baseEmoji().size());
    }

    @Test
    void knownNamesAndCaptions() {
        EmojiCatalogue catalogue = dataset.catalogue();
        EmojiImage heart = catalogue.findByName(EmojiStyle.TWEMOJI, "red heart").orElseThrow();
        assertEquals("2764-FE0F", heart.unified());
        assertEquals("red heart, twemoji style, on a blue background",
                new EmojiSample(heart, PaletteColour.BLUE).caption());
        Set<String> captions = new HashSet<>(dataset.train().captions());
        captions.addAll(dataset.heldOut().captions());
        assertTrue(captions.contains("red heart, twemoji style, on a blue background"));
        assertTrue(captions.contains("blue circle, noto style, on a yellow background"));
        assertTrue(captions.contains("black large square, noto style, on a white background"));
        assertTrue(captions.contains("santa claus medium dark skin tone, twemoji style, on a pink background"));
        assertTrue(captions.contains("flag japan, noto style, on a gray background"));
        // No iconify name: emoji.json's name in lower case.
        assertTrue(captions.contains("emoji modifier fitzpatrick type-1-2, noto style, on a black background"));

        BufferedImage image = new EmojiSample(heart, PaletteColour.BLUE).render(64).image();
        assertEquals(PaletteColour.BLUE.rgb(), image.getRGB(0, 0) & 0xffffff);
        assertEquals(PaletteColour.RED, PaletteColour.nearest(Srgb.ofPixel(image.getRGB(32, 36))));
    }

    @Test
    void splitSizes() {
        EmojiSplit split = dataset.split();
        assertEquals(57, split.heldOutEmoji().size());
        for (String name : EmojiSplit.ALWAYS_HELD_OUT) {
            EmojiImage image = dataset.catalogue().findByName(EmojiStyle.NOTO, name).orElseThrow();
            assertTrue(split.isHeldOut(image.baseUnified()), name);
        }
        assertEquals(927, split.heldOutColours().size());
        // 2 styles x (1911 - 57 defaults + 314 toned emoji left) per epoch.
        assertEquals(4336, dataset.train().size());
        assertEquals(57 * 2 * 10 + 927 * 2, dataset.heldOut().size());
    }

    @Test
    void objectColourReferences() {
        List<ObjectColourReference> references = dataset.objectColours();
        assertEquals(9 * 3 * 2, references.size());
        for (ObjectColourReference reference : references) {
            String base = dataset.catalogue().findByName(reference.style(), reference.name()).orElseThrow().baseUnified();
            assertFalse(dataset.split().isHeldOut(base), reference.name());
        }
        assertTrue(references.stream().anyMatch(r -> r.name().equals("black large square")));
        ObjectColourReference red = references.get(0);
        assertEquals("red heart", red.name());
        assertEquals(PaletteColour.RED, PaletteColour.nearest(red.meanColour()));
    }
}
