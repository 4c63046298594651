package daguerre.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.gallery.Board;
import daguerre.server.gallery.Gallery;
import daguerre.server.gallery.ImageEntry;
import daguerre.server.gallery.ImageQuery;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A gallery database of the schema before boards (version 2) gains them, keeping its images. */
class BoardsMigrationTest {

    private static final int BEFORE_BOARDS = 2;

    @TempDir
    Path dir;

    @Test
    void aDatabaseFromBeforeBoardsKeepsItsImagesUnboarded() throws Exception {
        Path file = dir.resolve("daguerre.db");
        String id = Ids.newId();
        try (Database old = Database.open(file, BEFORE_BOARDS)) {
            assertEquals(BEFORE_BOARDS, old.version());
            old.call(c -> {
                try (PreparedStatement s = c.prepareStatement("INSERT INTO images (id, job_id, file, prompt, negative_prompt, model, "
                        + "sampler, seed, steps, guidance_scale, width, height, created_at, favorite, infotext, request) "
                        + "VALUES (?, 'job', 'x.png', 'an old lighthouse', '', 'tiny', 'euler', 7, 4, 7.5, 64, 64, 1000, 1, 'info', '{}')")) {
                    s.setString(1, id);
                    return s.executeUpdate();
                }
            });
        }
        try (Database database = Database.open(file)) {
            assertEquals(Database.latestVersion(), database.version());
            Gallery gallery = new Gallery(database, dir);
            ImageQuery unboarded = new ImageQuery("lighthouse", null, null, null, null, null, ImageQuery.NO_BOARD, null, null,
                    ImageQuery.Order.NEWEST, null, 10);
            List<ImageEntry> found = gallery.list(unboarded).items();
            assertEquals(List.of(id), found.stream().map(ImageEntry::id).toList());
            assertNull(found.get(0).board());
            assertTrue(found.get(0).favorite(), "the old columns keep their values");
            assertEquals(1, gallery.boards().unboardedCount());

            Board board = gallery.boards().create("Old ones");
            assertEquals(1, gallery.setBoard(List.of(id), board.id()));
            assertEquals(1, gallery.boards().find(board.id()).orElseThrow().imageCount());
            assertEquals(List.of(), gallery.list(unboarded).items());
        }
    }
}
