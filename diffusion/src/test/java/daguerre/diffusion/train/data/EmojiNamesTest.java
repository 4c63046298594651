package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmojiNamesTest {

    private final EmojiNames names = EmojiNames.of(Map.of(
            "2764", "red-heart",
            "1f468-200d-1f469-200d-1f467", "family-man-woman-girl",
            "263a-fe0f", "smiling-face",
            "1f1ef-1f1f5", "flag-japan"));

    @Test
    void findsSequencesWithAndWithoutVariationSelector() {
        assertEquals(Optional.of("red heart"), names.lookup("2764-FE0F"));
        assertEquals(Optional.of("red heart"), names.lookup("2764"));
        assertEquals(Optional.of("family man woman girl"), names.lookup("1F468-200D-1F469-200D-1F467"));
        assertEquals(Optional.of("smiling face"), names.lookup("263A"));
        assertEquals(Optional.of("flag japan"), names.lookup("1F1EF-1F1F5"));
        assertEquals(Optional.empty(), names.lookup("1F3FB"));
    }

    @Test
    void readsCharsJson(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("chars.json");
        Files.writeString(file, "{\"1f535\": \"blue-circle\", \"2b1b\": \"black-large-square\"}");
        EmojiNames loaded = EmojiNames.load(file);
        assertEquals(2, loaded.size());
        assertEquals(Optional.of("black large square"), loaded.lookup("2B1B"));

        Files.writeString(file, "{\"1f535\": 5}");
        DatasetException wrongType = assertThrows(DatasetException.class, () -> EmojiNames.load(file));
        assertTrue(wrongType.getMessage().contains("1f535"), wrongType.getMessage());
        Files.writeString(file, "{\"1f535\": ");
        assertThrows(DatasetException.class, () -> EmojiNames.load(file));
        assertThrows(DatasetException.class, () -> EmojiNames.load(dir.resolve("absent.json")));
    }
}
