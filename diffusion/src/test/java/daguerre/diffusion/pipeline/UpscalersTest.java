package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The hires-fix upscalers: what is registered, sizes, and values against hand-derived PyTorch / Pillow results. */
class UpscalersTest {

    private static BufferedImage noise(int width, int height, long seed) {
        Random random = new Random(seed);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        return image;
    }

    @Test
    void listsExactlyWhatWorks() {
        assertEquals(List.of("Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
                "Latent (nearest)", "Latent (nearest-exact)", "None", "Lanczos", "Nearest"), Upscalers.names());
        assertInstanceOf(Upscaler.Latent.class, Upscalers.find("latent").orElseThrow());
        assertInstanceOf(Upscaler.Pixel.class, Upscalers.find("Lanczos").orElseThrow());
        assertTrue(Upscalers.find("R-ESRGAN 4x+").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> Upscalers.register(Upscalers.find("Nearest").orElseThrow()));
        assertEquals("hr_upscaler", assertThrows(InvalidRequestException.class,
                () -> HiresFix.scaled(2, "R-ESRGAN 4x+")).field());
    }

    @Test
    void nearestTwiceDuplicatesEveryPixel() {
        BufferedImage image = noise(7, 5, 1);
        BufferedImage up = ((Upscaler.Pixel) Upscalers.find("Nearest").orElseThrow()).upscale(image, 14, 10);
        assertEquals(14, up.getWidth());
        assertEquals(10, up.getHeight());
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 14; x++) {
                assertEquals(image.getRGB(x / 2, y / 2), up.getRGB(x, y), "pixel " + x + ", " + y);
            }
        }
    }

    @Test
    void pixelUpscalersGiveTheAskedSize() {
        BufferedImage image = noise(9, 6, 2);
        for (String name : List.of("None", "Lanczos", "Nearest")) {
            BufferedImage up = ((Upscaler.Pixel) Upscalers.find(name).orElseThrow()).upscale(image, 20, 13);
            assertEquals(20, up.getWidth(), name);
            assertEquals(13, up.getHeight(), name);
        }
    }

    @Test
    void lanczosKeepsAFlatImageFlatAndInterpolatesBetweenSamples() {
        BufferedImage flat = new BufferedImage(5, 4, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 5; x++) {
                flat.setRGB(x, y, 0x336699);
            }
        }
        BufferedImage up = Resampling.resize(flat, 11, 9, Resampling.Filter.LANCZOS);
        for (int y = 0; y < 9; y++) {
            for (int x = 0; x < 11; x++) {
                assertEquals(0x336699, up.getRGB(x, y) & 0xffffff);
            }
        }
        // a step 0 | 255: the doubled row runs monotonically-ish from 0 to 255 with Lanczos' overshoot clipped
        BufferedImage step = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        step.setRGB(1, 0, 0xffffff);
        BufferedImage row = Resampling.resize(step, 4, 1, Resampling.Filter.LANCZOS);
        assertEquals(0, row.getRGB(0, 0) & 0xff);
        assertEquals(255, row.getRGB(3, 0) & 0xff);
        assertTrue((row.getRGB(1, 0) & 0xff) < (row.getRGB(2, 0) & 0xff));
    }

    @Test
    void latentUpscalersMatchTorchInterpolate() {
        try (NDManager manager = DjlRuntime.newManager()) {
            NDArray row = manager.create(new float[] {0, 1}, new Shape(1, 1, 1, 2));
            // F.interpolate(x, size=(1, 4), mode='bilinear', align_corners=False) = [0, 0.25, 0.75, 1]
            assertArrayEquals(new float[] {0, 0.25f, 0.75f, 1}, latent("Latent").upscale(row, 1, 4).toFloatArray(), 1e-6f);
            assertArrayEquals(new float[] {0, 0.25f, 0.75f, 1},
                    latent("Latent (antialiased)").upscale(row, 1, 4).toFloatArray(), 1e-6f);
            // mode='bicubic' (A = -0.75, indices clamped): output 1 at x = 0.25 takes taps (0, 0, 1, 1) with weights
            // (-0.10546875, 0.87890625, 0.26171875, -0.03515625), so 0.2265625; output 0 only its last tap on 1
            assertArrayEquals(new float[] {-0.10546875f, 0.2265625f, 0.7734375f, 1.10546875f},
                    latent("Latent (bicubic)").upscale(row, 1, 4).toFloatArray(), 1e-6f);
            // antialias=True bicubic (a = -0.5, taps inside the input, weights normalised): output 0 has taps
            // w(0.25) = 0.8671875 on 0 and w(1.25) = -0.0703125 on 1, so -0.0703125 / 0.796875; output 3 mirrors it
            float[] aa = latent("Latent (bicubic antialiased)").upscale(row, 1, 4).toFloatArray();
            assertEquals(-0.0703125 / 0.796875, aa[0], 1e-6);
            assertEquals(1 + 0.0703125 / 0.796875, aa[3], 1e-6);
            // nearest and nearest-exact duplicate at 2x
            assertArrayEquals(new float[] {0, 0, 1, 1}, latent("Latent (nearest)").upscale(row, 1, 4).toFloatArray());
            assertArrayEquals(new float[] {0, 0, 1, 1}, latent("Latent (nearest-exact)").upscale(row, 1, 4).toFloatArray());
            // nearest at 3 of 2: floor(i * 2/3) = 0, 0, 1; nearest-exact: floor((i + 0.5) * 2/3) = 0, 1, 1
            assertArrayEquals(new float[] {0, 0, 1}, latent("Latent (nearest)").upscale(row, 1, 3).toFloatArray());
            assertArrayEquals(new float[] {0, 1, 1}, latent("Latent (nearest-exact)").upscale(row, 1, 3).toFloatArray());
            NDArray latents = manager.randomNormal(new Shape(2, 4, 3, 5));
            NDArray up = latent("Latent").upscale(latents, 6, 10);
            assertEquals(new Shape(2, 4, 6, 10), up.getShape());
        }
    }

    private static Upscaler.Latent latent(String name) {
        return (Upscaler.Latent) Upscalers.find(name).orElseThrow();
    }
}
