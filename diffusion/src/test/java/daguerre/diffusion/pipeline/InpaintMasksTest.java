package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

/** The pixel side of inpainting against values worked out by hand from A1111's and OpenCV's definitions. */
class InpaintMasksTest {

    @Test
    void greyIsPillowsLAndAnAlphaMaskUsesItsAlpha() {
        BufferedImage rgb = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        rgb.setRGB(0, 0, 0xff0000);
        rgb.setRGB(1, 0, 0xffffff);
        // L = (19595 R + 38470 G + 7471 B + 32768) >> 16: red 255 -> 76
        assertArrayEquals(new int[] {76, 255}, InpaintMasks.grey(rgb));
        BufferedImage alpha = new BufferedImage(3, 1, BufferedImage.TYPE_INT_ARGB);
        alpha.setRGB(0, 0, 0x00ffffff);
        alpha.setRGB(1, 0, 0x80000000);
        alpha.setRGB(2, 0, 0x81000000);
        assertArrayEquals(new int[] {0, 0, 255}, InpaintMasks.grey(alpha), "alpha > 128 repaints, whatever the colour");
        BufferedImage opaque = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        opaque.setRGB(0, 0, 0xff808080);
        assertArrayEquals(new int[] {128}, InpaintMasks.grey(opaque), "all opaque: the grey value");
    }

    @Test
    void blurIsOpenCvsGaussianWithA1111sKernelSize() {
        int width = 31;
        int[] impulse = new int[width];
        impulse[15] = 255;
        int[] out = InpaintMasks.blur(impulse, width, 1, 2); // a 1-row image: the vertical pass reflects onto itself
        // kernel size 2 int(2.5 * 2 + 0.5) + 1 = 11: nothing reaches 6 or more from the centre
        assertEquals(0, out[15 - 6]);
        assertEquals(0, out[15 + 6]);
        // weights exp(-k^2 / 8) / S, S = sum_{k=-5..5} exp(-k^2 / 8) = 4.9859...: at 5, 255 * 0.04394 / S = 2.25 -> 2
        assertEquals(2, out[15 - 5]);
        for (int i = 1; i <= 5; i++) {
            assertEquals(out[15 - i], out[15 + i], "symmetric");
            assertTrue(out[15 - i + 1] >= out[15 - i], "falls off");
        }
        // centre: 255 / S = 51.14 -> 51
        assertEquals(51, out[15]);
        assertArrayEquals(impulse, InpaintMasks.blur(impulse, width, 1, 0));
    }

    @Test
    void cropRegionIsTheBoxOfTheMaskPaddedAndClamped() {
        int w = 10;
        int h = 8;
        int[] mask = new int[w * h];
        mask[3 * w + 4] = 1;
        mask[5 * w + 6] = 200;
        assertEquals(new InpaintMasks.Region(4, 3, 7, 6), InpaintMasks.cropRegion(mask, w, h, 0));
        assertEquals(new InpaintMasks.Region(2, 1, 9, 8), InpaintMasks.cropRegion(mask, w, h, 2));
        assertEquals(new InpaintMasks.Region(0, 0, 10, 8), InpaintMasks.cropRegion(mask, w, h, 32));
        assertNull(InpaintMasks.cropRegion(new int[w * h], w, h, 4), "blank mask");
    }

    @Test
    void expandToRatioGrowsTheShortSideEvenlyAndStaysInside() {
        // 4 wide, 8 high, processing 1:1 -> width 8: x1 - 2, x2 + 2
        assertEquals(new InpaintMasks.Region(8, 10, 16, 18),
                InpaintMasks.expandToRatio(new InpaintMasks.Region(10, 10, 14, 18), 64, 64, 100, 100));
        // at the right edge the box shifts left instead
        assertEquals(new InpaintMasks.Region(92, 10, 100, 18),
                InpaintMasks.expandToRatio(new InpaintMasks.Region(95, 10, 99, 18), 64, 64, 100, 100));
        // wide box, 1:1 -> height grows: 10 wide, 2 high -> diff 8: y1 - 4, y2 + 4, then moved down from the top
        assertEquals(new InpaintMasks.Region(0, 0, 10, 10),
                InpaintMasks.expandToRatio(new InpaintMasks.Region(0, 1, 10, 3), 8, 8, 20, 20));
        // an odd difference: the extra pixel goes to the far side (diff - diff // 2)
        assertEquals(new InpaintMasks.Region(10, 9, 14, 14),
                InpaintMasks.expandToRatio(new InpaintMasks.Region(10, 10, 14, 12), 64, 80, 100, 100));
    }

    @Test
    void fillTakesTheColourAroundTheMaskAndKeepsTheRest() {
        int w = 16;
        int h = 12;
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] mask = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean inside = x >= 5 && x < 10 && y >= 4 && y < 8;
                image.setRGB(x, y, inside ? 0xff00ff : 0x204060);
                mask[y * w + x] = inside ? 255 : 0;
            }
        }
        BufferedImage filled = InpaintMasks.fill(image, mask);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = filled.getRGB(x, y) & 0xffffff;
                for (int shift = 0; shift <= 16; shift += 8) {
                    assertTrue(Math.abs(((p >> shift) & 0xff) - ((0x204060 >> shift) & 0xff)) <= 1,
                            "pixel " + x + ", " + y + " is " + Integer.toHexString(p));
                }
            }
        }
    }

    @Test
    void pasteBackBlendsWithTheAlpha() {
        BufferedImage original = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        original.setRGB(0, 0, 0x000000);
        original.setRGB(1, 0, 0x000000);
        BufferedImage generated = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        generated.setRGB(0, 0, 0xffffff);
        generated.setRGB(1, 0, 0xffffff);
        BufferedImage out = InpaintMasks.pasteBack(original, generated, new InpaintMasks.Region(0, 0, 2, 1), new int[] {0, 51});
        assertEquals(0, out.getRGB(0, 0) & 0xffffff);
        assertEquals(0x333333, out.getRGB(1, 0) & 0xffffff);
    }
}
