package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.text.ClipTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The learned vocabulary has CLIP's layout and ClipTokenizer reads it. */
class BpeVocabularyTest {

    private static final List<String> CAPTIONS = List.of(
            "red heart, noto style, on a blue background",
            "blue heart, twemoji style, on a red background",
            "red circle, noto style, on a white background",
            "green square, twemoji style, on a gray background",
            "smiling face with sunglasses, noto style, on a pink background");

    @TempDir
    Path temp;

    @Test
    void writesClipFormatAndTokenizesFrequentWordsWhole() throws IOException {
        BpeVocabulary vocabulary = BpeVocabulary.learn(CAPTIONS, 1000);
        Path folder = vocabulary.write(temp.resolve("tokenizer"));
        List<String> merges = Files.readAllLines(folder.resolve("merges.txt"), StandardCharsets.UTF_8);
        assertEquals("#version: 0.2", merges.get(0));
        assertEquals(vocabulary.merges().size() + 1, merges.size());

        JsonNode vocab = new ObjectMapper().readTree(folder.resolve("vocab.json").toFile());
        assertEquals(vocabulary.size(), vocab.size());
        assertEquals(0, vocab.get("!").asInt());
        assertEquals(256, vocab.get("!</w>").asInt());
        assertEquals(vocabulary.size() - 2, vocab.get("<|startoftext|>").asInt());
        assertEquals(vocabulary.size() - 1, vocab.get("<|endoftext|>").asInt());

        ClipTokenizer tokenizer = ClipTokenizer.load(folder);
        assertEquals(vocabulary.size(), tokenizer.vocabSize());
        assertEquals(77, tokenizer.maxLength());
        // every word seen at least twice became one token
        assertEquals(List.of("red</w>", "heart</w>", ",</w>", "noto</w>", "style</w>", ",</w>", "on</w>", "a</w>", "blue</w>",
                "background</w>"), tokenizer.tokens(CAPTIONS.get(0)));
        int[] ids = tokenizer.encode("red heart");
        assertEquals(tokenizer.bosId(), ids[0]);
        assertEquals(tokenizer.eosId(), ids[3]);
        assertEquals(tokenizer.eosId(), ids[76]);
        // unseen text still tokenizes, byte by byte if need be
        assertTrue(tokenizer.tokens("zebra ü").size() >= 6);
    }

    @Test
    void learningIsAPureFunctionOfTheCaptions() {
        BpeVocabulary first = BpeVocabulary.learn(CAPTIONS, 20);
        BpeVocabulary second = BpeVocabulary.learn(CAPTIONS, 20);
        assertEquals(20, first.merges().size());
        for (int i = 0; i < 20; i++) {
            assertArrayEquals(first.merges().get(i), second.merges().get(i));
        }
    }

    @Test
    void byteTableMatchesClipsPrintableRanges() {
        char[] table = BpeVocabulary.byteToChar();
        assertEquals('!', table['!']);
        assertEquals((char) 0x100, table[0]);
        assertEquals((char) 0x120, table[' ']);
        assertEquals(256, BpeVocabulary.byteOrder().length);
        assertEquals('!', BpeVocabulary.byteOrder()[0]);
    }
}
