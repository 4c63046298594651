package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.weights.Golden;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundled CLIP vocabulary is the real one, and tokenizer folders are read with their padding token. */
class TokenizerFilesTest {

    @TempDir
    Path dir;

    @Test
    void bundledVocabularyIsTheRealClipVocabulary() throws IOException {
        TokenizerFiles bundled = TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN);
        try (InputStream vocab = bundled.openVocab(); InputStream merges = bundled.openMerges()) {
            assertArrayEquals(Files.readAllBytes(Golden.file("clip_tokenizer_real", "vocab.json")), vocab.readAllBytes());
            assertArrayEquals(Files.readAllBytes(Golden.file("clip_tokenizer_real", "merges.txt")), merges.readAllBytes());
        }
        Path copy = bundled.copyTo(dir.resolve("tokenizer"));
        TokenizerFiles folder = TokenizerFiles.folder(copy);
        assertEquals(copy, folder.folder().orElseThrow());
        assertEquals(TokenizerFiles.SD1_PAD_TOKEN, folder.padToken());
        assertArrayEquals(Files.readAllBytes(Golden.file("clip_tokenizer_real", "merges.txt")),
                Files.readAllBytes(copy.resolve("merges.txt")));
    }

    @Test
    void padTokenFromSpecialTokensMap() throws IOException {
        Path folder = TokenizerFiles.bundledClip("!").copyTo(dir.resolve("sd2"));
        Files.writeString(folder.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
        assertEquals("!", TokenizerFiles.folder(folder).padToken());
        Files.writeString(folder.resolve("special_tokens_map.json"),
                "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}");
        assertEquals("!", TokenizerFiles.folder(folder).padToken());
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path folder = dir.resolve("empty");
        Files.createDirectories(folder);
        IOException e = assertThrows(IOException.class, () -> TokenizerFiles.folder(folder));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains(folder.toString()), e.getMessage());
    }
}
