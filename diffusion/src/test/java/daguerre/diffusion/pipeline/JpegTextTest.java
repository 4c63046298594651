package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** JPEGs with the infotext in the EXIF UserComment, in the bytes A1111 (piexif) writes. */
class JpegTextTest {

    private static final String INFOTEXT = "a café, (oil:1.2) <lora:a:0.8>\nNegative prompt: blurry\n"
            + "Steps: 20, Sampler: Euler a, Lora hashes: \"a: 0123456789ab\", Seed: 7";

    private static BufferedImage picture() {
        BufferedImage image = new BufferedImage(40, 24, BufferedImage.TYPE_INT_ARGB);
        java.awt.Graphics g = image.getGraphics();
        g.setColor(new Color(200, 40, 40));
        g.fillRect(0, 0, 20, 24);
        g.setColor(new Color(20, 40, 220));
        g.fillRect(20, 0, 20, 24);
        return image;
    }

    @Test
    void theInfotextComesBackAndTheJpegIsAnImage() throws Exception {
        byte[] jpeg = JpegText.write(picture(), INFOTEXT, 90);
        assertEquals(Optional.of(INFOTEXT), JpegText.read(jpeg));
        BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(jpeg));
        assertEquals(40, decoded.getWidth());
        assertEquals(24, decoded.getHeight());
        assertTrue(new Color(decoded.getRGB(5, 5)).getRed() > 150, "not the picture");
        // piexif's form: the marker "UNICODE\0" and the text in UTF-16 big-endian, in an APP1 "Exif\0\0" segment
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.write("UNICODE\0".getBytes(StandardCharsets.US_ASCII));
        expected.write(INFOTEXT.getBytes(StandardCharsets.UTF_16BE));
        assertTrue(indexOf(jpeg, expected.toByteArray()) > 0, "no UNICODE UserComment in the bytes");
        assertTrue(indexOf(jpeg, "Exif\0\0MM".getBytes(StandardCharsets.US_ASCII)) > 0);
    }

    @Test
    void aJpegWithoutExifHasNoneAndOtherBytesAreRefused() throws Exception {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        BufferedImage rgb = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        ImageIO.write(rgb, "jpeg", plain);
        assertEquals(Optional.empty(), JpegText.read(plain.toByteArray()));
        assertThrows(IllegalArgumentException.class, () -> JpegText.read("not an image".getBytes(StandardCharsets.US_ASCII)));
        assertThrows(IllegalArgumentException.class, () -> JpegText.write(rgb, "x", 0));
        assertThrows(IllegalArgumentException.class, () -> JpegText.write(rgb, "x".repeat(40_000), 80),
                "an infotext too long for one EXIF segment is refused, not cut");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
