package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageOpsTest {

    @TempDir
    Path dir;

    @Test
    void compositesStraightAlphaInSrgb() {
        BufferedImage image = new BufferedImage(3, 1, BufferedImage.TYPE_INT_ARGB);
        image.setRGB(0, 0, 0x00ff0000); // transparent red
        image.setRGB(1, 0, 0xffff0000); // opaque red
        image.setRGB(2, 0, 0x80ff0000); // alpha 128/255 red
        BufferedImage out = ImageOps.compositeOver(image, PaletteColour.BLUE.rgb());
        assertEquals(BufferedImage.TYPE_INT_RGB, out.getType());
        assertEquals(PaletteColour.BLUE.rgb(), out.getRGB(0, 0) & 0xffffff);
        assertEquals(0xff0000, out.getRGB(1, 0) & 0xffffff);
        // 128/255 * (255, 0, 0) + 127/255 * (40, 90, 220), rounded: (148, 45, 110)
        assertEquals((148 << 16) | (45 << 8) | 110, out.getRGB(2, 0) & 0xffffff);
    }

    @Test
    void readsGreyPngWithoutBrighteningIt() throws IOException {
        // A grey + alpha PNG (colour type 4) as the Noto set has: grey 128 must stay 128.
        ComponentColorModel model = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY),
                true, false, Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster raster = model.createCompatibleWritableRaster(2, 1);
        raster.setPixel(0, 0, new int[] {128, 255});
        raster.setPixel(1, 0, new int[] {60, 0});
        Path file = dir.resolve("grey.png");
        ImageIO.write(new BufferedImage(model, raster, false, null), "png", file.toFile());
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(4, bytes[25], "colour type grey + alpha");

        int[] argb = ImageOps.argbPixels(ImageOps.read(file));
        assertArrayEquals(new int[] {0xff808080, 0x003c3c3c}, argb);
        BufferedImage composite = ImageOps.compositeOver(ImageOps.read(file), 0xffffff);
        assertEquals(0x808080, composite.getRGB(0, 0) & 0xffffff);
        assertEquals(0xffffff, composite.getRGB(1, 0) & 0xffffff);
    }

    @Test
    void readsOpaqueGreyPngAsStored() throws IOException {
        BufferedImage grey = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                grey.getRaster().setSample(x, y, 0, 100);
            }
        }
        Path file = dir.resolve("grey.png");
        ImageIO.write(grey, "png", file.toFile());
        assertEquals(0xff646464, ImageOps.argbPixels(ImageOps.read(file))[0]);
    }

    @Test
    void downsamplingAveragesBlocks() {
        // 1-pixel checkerboard of black and white: a 2x downscale is mid grey, not aliased
        // stripes. Away from the edges (where the filter loses taps) it is exactly 127.5 -> 128.
        BufferedImage checker = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                checker.setRGB(x, y, (x + y) % 2 == 0 ? 0xffffff : 0x000000);
            }
        }
        BufferedImage small = ImageOps.resizeAndCenterCrop(checker, 4);
        assertEquals(4, small.getWidth());
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                int grey = small.getRGB(x, y) & 0xff;
                if (x > 0 && x < 3 && y > 0 && y < 3) {
                    assertEquals(0x808080, small.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
                } else {
                    assertTrue(Math.abs(grey - 128) < 24, "edge pixel " + x + "," + y + ": " + grey);
                }
            }
        }
    }

    @Test
    void resizingKeepsSolidColours() {
        BufferedImage solid = new BufferedImage(10, 7, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 10; x++) {
                solid.setRGB(x, y, 0x2a5fdc);
            }
        }
        for (int size : new int[] {1, 3, 7, 16}) {
            BufferedImage out = ImageOps.resizeAndCenterCrop(solid, size);
            assertEquals(size, out.getWidth());
            assertEquals(size, out.getHeight());
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    assertEquals(0x2a5fdc, out.getRGB(x, y) & 0xffffff);
                }
            }
        }
    }

    @Test
    void cropsTheCentredSquare() {
        // 6x2: columns 0 and 5 red, 1..4 green; the centred 2x2 square is columns 2..3.
        BufferedImage wide = new BufferedImage(6, 2, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 6; x++) {
                wide.setRGB(x, y, x == 0 || x == 5 ? 0xff0000 : 0x00ff00);
            }
        }
        BufferedImage square = ImageOps.resizeAndCenterCrop(wide, 2);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 2; x++) {
                assertEquals(0x00ff00, square.getRGB(x, y) & 0xffffff);
            }
        }
        BufferedImage tall = new BufferedImage(2, 6, BufferedImage.TYPE_INT_RGB);
        tall.setRGB(0, 2, 0x0000ff);
        tall.setRGB(1, 3, 0xffffff);
        BufferedImage cropped = ImageOps.resizeAndCenterCrop(tall, 2);
        assertEquals(0x0000ff, cropped.getRGB(0, 0) & 0xffffff);
        assertEquals(0xffffff, cropped.getRGB(1, 1) & 0xffffff);
        assertEquals(0, cropped.getRGB(1, 0) & 0xffffff);
    }

    @Test
    void upsamplingIsBilinear() {
        BufferedImage pair = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        pair.setRGB(0, 0, 0x000000);
        pair.setRGB(0, 1, 0x000000);
        pair.setRGB(1, 0, 0xc8c8c8);
        pair.setRGB(1, 1, 0xc8c8c8);
        BufferedImage big = ImageOps.resizeAndCenterCrop(pair, 4);
        // Output centres at source x = -0.25, 0.25, 0.75, 1.25: values 0, 50, 150, 200.
        int[] expected = {0, 50, 150, 200};
        for (int x = 0; x < 4; x++) {
            assertEquals(expected[x], big.getRGB(x, 2) & 0xff, "column " + x);
        }
    }

    @Test
    void badFilesAreNamed() throws IOException {
        Path text = dir.resolve("notes.png");
        Files.writeString(text, "not an image");
        DatasetException notImage = assertThrows(DatasetException.class, () -> ImageOps.read(text));
        assertTrue(notImage.getMessage().contains("notes.png"), notImage.getMessage());
        DatasetException header = assertThrows(DatasetException.class, () -> ImageOps.probeSize(text));
        assertTrue(header.getMessage().contains("not an image"), header.getMessage());
        DatasetException missing = assertThrows(DatasetException.class, () -> ImageOps.read(dir.resolve("gone.png")));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    }
}
