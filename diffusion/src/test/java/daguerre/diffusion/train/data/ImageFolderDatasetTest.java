package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderDatasetTest {

    @TempDir
    Path dir;

    @Test
    void readsImagesAndCaptions() throws IOException {
        writeImage("wide.png", 40, 20, 0xff00ff00, BufferedImage.TYPE_INT_ARGB);
        Files.createDirectories(dir.resolve("photos"));
        writeImage("photos/clear.png", 16, 16, 0x00000000, BufferedImage.TYPE_INT_ARGB);
        writeImage("photos/blue.jpg", 20, 30, 0xff0000ff, BufferedImage.TYPE_INT_RGB);
        metadata("""
                {"file_name": "wide.png", "text": "a green field", "source": "ignored"}

                {"file_name": "photos/clear.png", "text": "nothing at all"}
                {"file_name": "photos/blue.jpg", "text": "a green field"}
                """);

        ImageFolderDataset dataset = ImageFolderDataset.open(dir, 8);
        assertEquals(3, dataset.size());
        assertEquals(8, dataset.imageSize());
        assertEquals(List.of("a green field", "nothing at all"), dataset.captions());

        Sample wide = dataset.sample(0, 0);
        assertEquals("wide.png", wide.id());
        assertEquals("a green field", wide.caption());
        assertEquals(8, wide.image().getWidth());
        assertEquals(8, wide.image().getHeight());
        assertEquals(0x00ff00, wide.image().getRGB(3, 3) & 0xffffff);

        // Transparent pixels are composited over white.
        assertEquals(0xffffff, dataset.sample(0, 1).image().getRGB(0, 0) & 0xffffff);
        // The epoch does not change a folder dataset's samples.
        Sample jpeg = dataset.sample(5, 2);
        assertEquals("photos/blue.jpg", jpeg.id());
        int pixel = jpeg.image().getRGB(4, 4);
        assertTrue((pixel & 0xff) > 240 && ((pixel >> 16) & 0xff) < 15, Integer.toHexString(pixel));
        assertThrows(IndexOutOfBoundsException.class, () -> dataset.sample(0, 3));
    }

    @Test
    void reportsBadJsonWithItsLineNumber() throws IOException {
        writeImage("a.png", 4, 4, 0xffffffff, BufferedImage.TYPE_INT_RGB);
        metadata("""
                {"file_name": "a.png", "text": "one"}
                {"file_name": "a.png", "text": "two"}
                {"file_name": "a.png", "text": "three"
                """);
        assertFails("line 3: not valid JSON");
    }

    @Test
    void reportsMissingAndMistypedFields() throws IOException {
        writeImage("a.png", 4, 4, 0xffffffff, BufferedImage.TYPE_INT_RGB);
        metadata("{\"file_name\": \"a.png\"}\n");
        assertFails("line 1: missing field 'text'");
        metadata("{\"file_name\": \"a.png\", \"text\": 7}\n");
        assertFails("line 1: field 'text' must be a string");
        metadata("[\"a.png\", \"caption\"]\n");
        assertFails("line 1: expected a JSON object");
    }

    @Test
    void reportsMissingFilesAndNonImages() throws IOException {
        writeImage("a.png", 4, 4, 0xffffffff, BufferedImage.TYPE_INT_RGB);
        metadata("{\"file_name\": \"a.png\", \"text\": \"ok\"}\n{\"file_name\": \"b.png\", \"text\": \"gone\"}\n");
        assertFails("line 2: image file not found");
        Files.writeString(dir.resolve("c.png"), "plain text");
        metadata("{\"file_name\": \"c.png\", \"text\": \"fake\"}\n");
        assertFails("line 1: not an image");
        metadata("{\"file_name\": \"../a.png\", \"text\": \"outside\"}\n");
        assertFails("is not a file inside");
    }

    @Test
    void reportsMissingOrEmptyMetadata() throws IOException {
        assertFails("no metadata.jsonl");
        metadata("\n\n");
        assertFails("lists no images");
    }

    private void assertFails(String expectedMessagePart) {
        DatasetException error = assertThrows(DatasetException.class, () -> ImageFolderDataset.open(dir, 8));
        assertTrue(error.getMessage().contains(expectedMessagePart), error.getMessage());
    }

    private void metadata(String lines) throws IOException {
        Files.writeString(dir.resolve(ImageFolderDataset.METADATA_FILE), lines);
    }

    private void writeImage(String name, int width, int height, int argb, int type) throws IOException {
        BufferedImage image = new BufferedImage(width, height, type);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, argb);
            }
        }
        String format = name.endsWith(".jpg") ? "jpg" : "png";
        assertTrue(ImageIO.write(image, format, dir.resolve(name).toFile()), "no writer for " + format);
    }
}
