package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FilenamePatternTest {

    private static final Map<String, String> VALUES = FilenamePattern.values(42, "a (red:1.2) fox, in/the snow?", "my:model",
            "0123456789", "20", "7.5", "Euler a", 512, 768);

    @Test
    void expandsA1111TokensAndReplacesUnsafeCharacters() {
        assertEquals("42", FilenamePattern.parse(FilenamePattern.DEFAULT).expand(VALUES));
        assertEquals("a red 1 2 fox in the snow", FilenamePattern.promptWords("a (red:1.2) fox, in/the snow?"));
        assertEquals("my_model-a red 1 2 fox in the snow-42-" + java.time.LocalDate.now(),
                FilenamePattern.parse("[model_name]-[prompt_words]-[seed]-[date]").expand(VALUES));
        assertEquals("Euler a 20 steps cfg 7.5 512x768 0123456789",
                FilenamePattern.parse("[SAMPLER] [steps] steps cfg [cfg] [width]x[height] [model_hash]").expand(VALUES));
        assertEquals("a_b_c_d_e_f_g_h_i_j_k", FilenamePattern.sanitize("a/b\\c:d*e?f\"g<h>i|j\nk"));
        assertEquals("x_y", FilenamePattern.sanitize("..  x#y . "));
        assertEquals("empty", FilenamePattern.promptWords(" ,;! "));
        assertEquals("one two three four five six seven eight", FilenamePattern.promptWords("one two three four five six seven eight nine"));
    }

    @Test
    void cutsLongNamesAndRefusesUnknownTokens() {
        assertEquals(FilenamePattern.MAX_LENGTH, FilenamePattern.sanitize("x".repeat(500)).length());
        String wide = FilenamePattern.sanitize("猫".repeat(100));
        assertTrue(wide.getBytes(StandardCharsets.UTF_8).length <= FilenamePattern.MAX_BYTES, wide);
        assertEquals("猫".repeat(FilenamePattern.MAX_BYTES / 3), wide);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FilenamePattern.parse("[seed]-[job_id]"));
        assertTrue(e.getMessage().contains("[job_id]") && e.getMessage().contains("[prompt_words]"), e.getMessage());
    }
}
