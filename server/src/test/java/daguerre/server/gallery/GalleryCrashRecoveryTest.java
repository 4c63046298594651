package daguerre.server.gallery;

import java.util.List;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.jobs.Database;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.Ids;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a kill between writing an image and recording its job can leave, and how the gallery recovers. */
class GalleryCrashRecoveryTest {

    @TempDir
    Path dataDir;

    private static final GenerationParams PARAMS =
            new GenerationParams("a cat", "", "tiny", "euler", 4, 7, 0, 1, 1, 8, 8, 1, null, 0.75, 0, null, null, 1, List.of());

    private static EngineResult.Image image(int seed) throws Exception {
        BufferedImage pixels = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        pixels.setRGB(0, 0, seed);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(pixels, "png", png);
        return new EngineResult.Image(png.toByteArray(), seed, "a cat\nSeed: " + seed);
    }

    @Test
    void aJobStoredAgainAfterACrashKeepsOneRowPerImage() throws Exception {
        try (Database database = Database.open(dataDir.resolve("daguerre.db"))) {
            Gallery gallery = new Gallery(database, dataDir);
            String job = Ids.newId();
            String first = gallery.store(job, 0, PARAMS, "{}", image(1));
            String second = gallery.store(job, 1, PARAMS, "{}", image(2));
            // the job ran again after a kill before it was marked succeeded
            assertEquals(first, gallery.store(job, 0, PARAMS, "{}", image(1)));
            assertEquals(second, gallery.store(job, 1, PARAMS, "{}", image(2)));
            assertEquals(2, gallery.count());
            assertTrue(gallery.png(first).isPresent());
            assertFalse(first.equals(gallery.store(Ids.newId(), 0, PARAMS, "{}", image(1))), "another job's image is another image");
        }
    }

    @Test
    void filesNoRowRecordsAreSweptAtStartAndOthersKept() throws Exception {
        String kept;
        try (Database database = Database.open(dataDir.resolve("daguerre.db"))) {
            kept = new Gallery(database, dataDir).store(Ids.newId(), 0, PARAMS, "{}", image(1));
            assertTrue(new Gallery(database, dataDir).thumbnail(kept).isPresent());
        }
        String orphanId = Ids.newId();
        Path orphan = Files.createDirectories(dataDir.resolve("images").resolve(orphanId.substring(0, 2))).resolve(orphanId + ".png");
        Files.write(orphan, image(2).png());
        Path orphanThumbnail = Files.write(dataDir.resolve("thumbnails").resolve(orphanId + ".png"), image(2).png());
        Path notOurs = Files.writeString(dataDir.resolve("images").resolve("README.txt"), "a note the operator left");
        try (Database database = Database.open(dataDir.resolve("daguerre.db"))) {
            Gallery reopened = new Gallery(database, dataDir);
            assertFalse(Files.exists(orphan), "an image file without a row is removed");
            assertFalse(Files.exists(orphanThumbnail), "and so is its thumbnail");
            assertTrue(Files.exists(notOurs), "a file not named by an id is left alone");
            assertTrue(reopened.png(kept).isPresent(), "a recorded image stays");
            assertTrue(reopened.thumbnail(kept).isPresent());
            assertEquals(1, reopened.count());
        }
    }
}
