package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exact token-id parity with transformers' slow CLIPTokenizer on the golden prompt sets. */
class ClipTokenizerTest {

    @TempDir
    Path temp;

    @Test
    void toyVocabularyMatchesEveryGoldenCase() throws Exception {
        JsonNode golden = Golden.json("clip_tokenizer", "cases.json");
        ClipTokenizer tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        assertEquals(golden.get("bos_id").asInt(), tokenizer.bosId());
        assertEquals(golden.get("eos_id").asInt(), tokenizer.eosId());
        assertEquals(golden.get("pad_id").asInt(), tokenizer.padId());
        assertEquals(golden.get("unk_id").asInt(), tokenizer.unkId());
        assertEquals(golden.get("vocab_size").asInt(), tokenizer.vocabSize());
        assertEquals(golden.get("model_max_length").asInt(), tokenizer.maxLength());
        checkCases(tokenizer, golden.get("cases"), Golden.tensors("clip_tokenizer", "tokens.safetensors"));
    }

    @Test
    void realVocabularyMatchesEveryGoldenCase() throws Exception {
        ClipTokenizer tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer_real"));
        assertEquals(49408, tokenizer.vocabSize());
        checkCases(tokenizer, Golden.json("clip_tokenizer_real", "cases.json"),
                Golden.tensors("clip_tokenizer_real", "tokens.safetensors"));
    }

    @Test
    void sd1TextModelInputIdsMatch() throws Exception {
        ClipTokenizer tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        checkModelInputs(tokenizer, "clip_text_tiny");
    }

    /** SD 2.x folders set pad_token "!": padding uses its id and literal '!' is split out as that token. */
    @Test
    void sd2PadTokenFolderMatchesTextModelInputIds() throws Exception {
        Path folder = copyTokenizerFolder();
        Files.writeString(folder.resolve("special_tokens_map.json"), "{\"bos_token\": {\"content\": \"<|startoftext|>\","
                + " \"lstrip\": false}, \"eos_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\", \"pad_token\": \"!\"}");
        ClipTokenizer tokenizer = ClipTokenizer.load(folder);
        assertEquals(0, tokenizer.padId());
        assertEquals("!", tokenizer.padToken());
        checkModelInputs(tokenizer, "clip_text_tiny_gelu");
        List<String> tokens = tokenizer.tokens("wow!!");
        assertEquals(List.of("w", "o", "w</w>", "!", "!"), tokens);
    }

    @Test
    void withPadTokenGivesTheSd2Behaviour() throws Exception {
        ClipTokenizer sd1 = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        ClipTokenizer sd2 = sd1.withPadToken("!");
        assertEquals(sd1.eosId(), sd1.padId());
        assertEquals(0, sd2.padId());
        assertEquals(sd1.bosId(), sd2.bosId());
        assertEquals(sd1.eosId(), sd2.eosId());
        checkModelInputs(sd2, "clip_text_tiny_gelu");
        assertThrows(IllegalArgumentException.class, () -> sd1.withPadToken("<pad>"));
    }

    @Test
    void encodeTruncatesAndPads() throws Exception {
        ClipTokenizer tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        int[] ids = tokenizer.encode("a photo of a cat", 5);
        int[] body = tokenizer.tokenIds("a photo");
        assertArrayEquals(new int[] {tokenizer.bosId(), body[0], body[1], tokenizer.tokenIds("of")[0], tokenizer.eosId()}, ids);
        int[] empty = tokenizer.encode("", 6);
        assertArrayEquals(new int[] {tokenizer.bosId(), tokenizer.eosId(), tokenizer.padId(), tokenizer.padId(),
                tokenizer.padId(), tokenizer.padId()}, empty);
        assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("x", 1));
        assertTrue(tokenizer.idOfToken(",</w>").isPresent());
        assertFalse(tokenizer.idOfToken("no such token").isPresent());
    }

    /** Python str.lower() details: Final_Sigma context, and the regex never matching U+0345. */
    @Test
    void pythonLowerCasingAndRegexQuirks() {
        assertEquals("οδος", ClipTokenizer.clean("ΟΔΟΣ"));
        assertEquals("ας\u0301", ClipTokenizer.clean("ΑΣ\u0301"));  // case-ignorable marks are skipped
        assertEquals("σ", ClipTokenizer.clean("Σ"));
        assertEquals("3σ", ClipTokenizer.clean("3Σ"));
        assertEquals("ασ.β", ClipTokenizer.clean("ΑΣ.Β"));
        assertEquals("i\u0307stanbul", ClipTokenizer.clean("İstanbul"));
        assertEquals(List.of("ab", "cd"), ClipTokenizer.preTokenize("ab\u0345cd"));
        assertEquals(List.of(".", "."), ClipTokenizer.preTokenize(".\u0345."));
    }

    @Test
    void missingFilesAreReportedByName() {
        IOException e = assertThrows(IOException.class, () -> ClipTokenizer.load(temp));
        assertTrue(e.getMessage().contains("vocab.json"), e.getMessage());
    }

    @Test
    void unknownSpecialTokenIsReportedByName() throws Exception {
        Path folder = copyTokenizerFolder();
        Files.writeString(folder.resolve("special_tokens_map.json"), "{\"pad_token\": \"<pad>\"}");
        IOException e = assertThrows(IOException.class, () -> ClipTokenizer.load(folder));
        assertTrue(e.getMessage().contains("pad_token") && e.getMessage().contains("<pad>"), e.getMessage());
    }

    private Path copyTokenizerFolder() throws IOException {
        Path folder = temp.resolve("tokenizer");
        Files.createDirectories(folder);
        for (String name : List.of("vocab.json", "merges.txt", "tokenizer_config.json")) {
            Files.copy(Golden.file("clip_tokenizer", name), folder.resolve(name));
        }
        return folder;
    }

    private static void checkModelInputs(ClipTokenizer tokenizer, String caseName) throws IOException {
        try (SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            JsonNode prompts = new ObjectMapper().readTree(io.metadata().get("prompts"));
            long[] expected = io.longs("input_ids");
            int length = (int) io.info("input_ids").shape()[1];
            assertEquals(prompts.size() * length, expected.length);
            for (int b = 0; b < prompts.size(); b++) {
                int[] ids = tokenizer.encode(prompts.get(b).asText(), length);
                assertArrayEquals(toInts(Arrays.copyOfRange(expected, b * length, (b + 1) * length)), ids,
                        caseName + " prompt " + b);
            }
        }
    }

    private static void checkCases(ClipTokenizer tokenizer, JsonNode cases, SafetensorsFile tensors) throws IOException {
        try (tensors) {
            long[] padded = tensors.longs("ids_padded_77");
            long[] masks = tensors.longs("attention_mask_77");
            int length = (int) tensors.info("ids_padded_77").shape()[1];
            assertEquals(cases.size(), tensors.info("ids_padded_77").shape()[0]);
            for (int i = 0; i < cases.size(); i++) {
                JsonNode c = cases.get(i);
                String prompt = c.get("prompt").asText();
                String label = "case " + i + " " + abbreviate(prompt);
                if (c.has("basic_tokenizer_cleaned")) {
                    assertEquals(c.get("basic_tokenizer_cleaned").asText(), ClipTokenizer.clean(prompt), label);
                }
                if (c.has("pre_tokens")) {
                    assertEquals(strings(c.get("pre_tokens")), ClipTokenizer.preTokenize(ClipTokenizer.clean(prompt)), label);
                }
                assertEquals(strings(c.get("bpe_tokens")), tokenizer.tokens(prompt), label);
                int[] ids = tokenizer.tokenize(prompt);
                assertArrayEquals(ints(c.get("ids")), ids, label);
                assertArrayEquals(toInts(tensors.longs(String.format("ids_%02d", i))), ids, label);
                int[] encoded = tokenizer.encode(prompt, length);
                assertArrayEquals(ints(c.get("ids_padded_77")), encoded, label);
                assertArrayEquals(toInts(Arrays.copyOfRange(padded, i * length, (i + 1) * length)), encoded, label);
                int[] mask = tokenizer.attentionMask(prompt, length);
                assertArrayEquals(ints(c.get("attention_mask_77")), mask, label);
                assertArrayEquals(toInts(Arrays.copyOfRange(masks, i * length, (i + 1) * length)), mask, label);
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static int[] toInts(long[] values) {
        return Arrays.stream(values).mapToInt(Math::toIntExact).toArray();
    }
}
