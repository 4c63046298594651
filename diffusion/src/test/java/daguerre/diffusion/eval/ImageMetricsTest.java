package daguerre.diffusion.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.train.data.EmojiStyle;
import daguerre.diffusion.train.data.ObjectColourReference;
import daguerre.diffusion.train.data.PaletteColour;
import daguerre.diffusion.train.data.Srgb;
import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The evaluation's measures on synthetic images with known answers. */
class ImageMetricsTest {

    private static BufferedImage filled(int size, int rgb) {
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                image.setRGB(x, y, rgb);
            }
        }
        return image;
    }

    /** A square of {@code object} colour over the middle [from, to) on a {@code background} image. */
    private static BufferedImage square(int size, int background, int object, int from, int to) {
        BufferedImage image = filled(size, background);
        for (int y = from; y < to; y++) {
            for (int x = from; x < to; x++) {
                image.setRGB(x, y, object);
            }
        }
        return image;
    }

    @Test
    void psnrOfAUniformErrorFollowsTheDefinition() {
        BufferedImage a = filled(8, 0x404040);
        BufferedImage b = filled(8, 0x424242);   // error 2 on every value: MSE 4
        assertEquals(10 * Math.log10(255.0 * 255.0 / 4), ImageMetrics.psnr(a, b), 1e-9);
        assertEquals(Double.POSITIVE_INFINITY, ImageMetrics.psnr(a, a));
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.psnr(a, filled(4, 0)));
    }

    @Test
    void borderMeanSeesOnlyTheOuterPixels() {
        // 64x64 blue image with a red square from 4 to 60: the 4-pixel border is all blue
        BufferedImage image = square(64, PaletteColour.BLUE.rgb(), PaletteColour.RED.rgb(), 4, 60);
        Srgb border = ImageMetrics.borderMean(image, 4);
        assertEquals(new Srgb(40, 90, 220), border);
        assertEquals(PaletteColour.BLUE, PaletteColour.nearest(border));
        // a red square reaching into the border shifts the mean but blue stays nearest
        BufferedImage touching = square(64, PaletteColour.BLUE.rgb(), PaletteColour.RED.rgb(), 2, 62);
        Srgb shifted = ImageMetrics.borderMean(touching, 4);
        assertTrue(shifted.r() > 40);
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.borderMean(image, 32));
    }

    @Test
    void dominantCentreColourIgnoresTheBackgroundAndPicksTheLargestColour() {
        int white = 0xffffff;
        BufferedImage image = square(64, white, 0xdd2e44, 16, 48);           // a red centre on white
        for (int y = 16; y < 24; y++) {
            for (int x = 16; x < 48; x++) {
                image.setRGB(x, y, 0x3b88c3);                                    // a smaller blue band
            }
        }
        Optional<Srgb> dominant = ImageMetrics.dominantCentreColour(image, Srgb.ofPixel(white), 20);
        assertEquals(Optional.of(Srgb.ofPixel(0xdd2e44)), dominant);
        assertEquals(Optional.empty(), ImageMetrics.dominantCentreColour(filled(64, white), Srgb.ofPixel(white), 20));
        // pixels outside the central half do not count
        BufferedImage corner = square(64, white, 0x000000, 0, 15);
        assertEquals(Optional.empty(), ImageMetrics.dominantCentreColour(corner, Srgb.ofPixel(white), 20));
    }

    @Test
    void nearestReferenceColourIsChosenInCielab() {
        Map<String, Srgb> references = new LinkedHashMap<>();
        for (ObjectColourReference r : List.of(
                new ObjectColourReference("red", "heart", "red heart", EmojiStyle.TWEMOJI, new Srgb(221, 46, 68)),
                new ObjectColourReference("orange", "heart", "orange heart", EmojiStyle.TWEMOJI, new Srgb(244, 144, 12)),
                new ObjectColourReference("brown", "heart", "brown heart", EmojiStyle.TWEMOJI, new Srgb(193, 105, 79)))) {
            references.put(r.colour(), r.meanColour());
        }
        assertEquals("red", ImageMetrics.nearest(new Srgb(200, 40, 60), references));
        assertEquals("orange", ImageMetrics.nearest(new Srgb(250, 150, 30), references));
        assertEquals("brown", ImageMetrics.nearest(new Srgb(180, 100, 80), references));
    }

    @Test
    void pairwiseDifferenceAveragesEveryPair() {
        BufferedImage black = filled(4, 0x000000);
        BufferedImage grey = filled(4, 0x646464);     // 100 on every value
        BufferedImage light = filled(4, 0xc8c8c8);    // 200
        assertEquals(100, ImageMetrics.meanAbsoluteDifference(black, grey), 1e-12);
        // pairs: 100, 200, 100
        assertEquals(400.0 / 3, ImageMetrics.meanPairwiseDifference(List.of(black, grey, light)), 1e-9);
        assertEquals(0, ImageMetrics.meanPairwiseDifference(List.of(black, black)), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.meanPairwiseDifference(List.of(black)));
    }

    @Test
    void objectBackgroundsAreFarFromTheObjectColour() {
        ObjectColourReference red = new ObjectColourReference("red", "circle", "red circle", EmojiStyle.NOTO, new Srgb(220, 40, 40));
        List<PaletteColour> backgrounds = DefaultModelEvaluation.eligibleBackgrounds(red, 3, 10);
        assertTrue(!backgrounds.contains(PaletteColour.RED));
        for (PaletteColour background : backgrounds) {
            assertTrue(background.lab().distance(red.lab()) > DefaultModelEvaluation.OBJECT_BACKGROUND_DISTANCE);
        }
        assertEquals(PaletteColour.values()[4], DefaultModelEvaluation.eligibleBackgrounds(red, 4, 1).get(0));
    }
}
