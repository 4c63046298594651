package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact token-id parity with transformers' slow CLIPTokenizer on the golden prompt sets. Every expected
 * id comes from the case's files (vocab.json, cases.json, tokens.safetensors), never from a constant, so
 * the tests hold for any CLIP-style vocabulary, special-token ids and padding.
 */
class ClipTokenizerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

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
        assertEquals(vocabulary("clip_tokenizer_real").size(), tokenizer.vocabSize());
        JsonNode cases = Golden.json("clip_tokenizer_real", "cases.json");
        // this case lists no special ids: every untruncated id list runs from BOS to EOS
        for (JsonNode c : cases) {
            int[] ids = ints(c.get("ids"));
            assertEquals(ids[0], tokenizer.bosId(), c.get("prompt").asText());
            assertEquals(ids[ids.length - 1], tokenizer.eosId(), c.get("prompt").asText());
        }
        checkCases(tokenizer, cases, Golden.tensors("clip_tokenizer_real", "tokens.safetensors"));
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
        assertEquals(vocabularyId("clip_tokenizer", "!"), tokenizer.padId());
        assertEquals("!", tokenizer.padToken());
        checkModelInputs(tokenizer, "clip_text_tiny_gelu");
        // without the special pad token "!!" would be one piece ending in "!</w>"; as a special token each '!' stands alone
        List<String> expected = new ArrayList<>(tokenizer.tokens("wow"));
        expected.addAll(List.of("!", "!"));
        assertEquals(expected, tokenizer.tokens("wow!!"));
        // the case's own tokenizer: the last piece ends in "</w>"
        assertNotEquals(expected, ClipTokenizer.load(Golden.caseDir("clip_tokenizer")).tokens("wow!!"));
    }

    @Test
    void withPadTokenGivesTheSd2Behaviour() throws Exception {
        ClipTokenizer sd1 = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        ClipTokenizer sd2 = sd1.withPadToken("!");
        assertEquals(Golden.json("clip_tokenizer", "cases.json").get("pad_id").asInt(), sd1.padId());
        assertEquals(vocabularyId("clip_tokenizer", "!"), sd2.padId());
        assertEquals(sd1.bosId(), sd2.bosId());
        assertEquals(sd1.eosId(), sd2.eosId());
        checkModelInputs(sd2, "clip_text_tiny_gelu");
        assertThrows(IllegalArgumentException.class, () -> sd1.withPadToken("<pad>"));
    }

    /** BOS + the first maxLength - 2 ids + EOS, then pad ids; the special ids are the ones cases.json states. */
    @Test
    void encodeTruncatesAndPads() throws Exception {
        ClipTokenizer tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        JsonNode golden = Golden.json("clip_tokenizer", "cases.json");
        int bos = golden.get("bos_id").asInt();
        int eos = golden.get("eos_id").asInt();
        int pad = golden.get("pad_id").asInt();
        String prompt = "a photo of a cat";
        int[] body = tokenizer.tokenIds(prompt);
        assertTrue(body.length >= 3, "the prompt needs at least 3 tokens in this vocabulary to test truncation");
        for (int maxLength = 2; maxLength <= body.length + 4; maxLength++) {
            int kept = Math.min(body.length, maxLength - 2);
            int[] expected = new int[maxLength];
            expected[0] = bos;
            System.arraycopy(body, 0, expected, 1, kept);
            expected[1 + kept] = eos;
            Arrays.fill(expected, 2 + kept, maxLength, pad);
            assertArrayEquals(expected, tokenizer.encode(prompt, maxLength), "max length " + maxLength);
        }
        int[] empty = new int[6];
        Arrays.fill(empty, pad);
        empty[0] = bos;
        empty[1] = eos;
        assertArrayEquals(empty, tokenizer.encode("", 6));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("x", 1));
        // every vocabulary entry is found under its own id; a string with spaces is never a BPE token
        Map<String, Integer> vocabulary = vocabulary("clip_tokenizer");
        vocabulary.forEach((token, id) -> assertEquals(id.intValue(), tokenizer.idOfToken(token).orElse(-1), token));
        assertFalse(vocabulary.containsKey("no such token"));
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

    /** The case's vocab.json: token -> id. */
    private static Map<String, Integer> vocabulary(String caseName) throws IOException {
        Map<String, Integer> out = new LinkedHashMap<>();
        JSON.readTree(Golden.file(caseName, "vocab.json").toFile()).properties()
                .forEach(e -> out.put(e.getKey(), e.getValue().asInt()));
        return out;
    }

    /** The id vocab.json of a case gives {@code token}; fails if the vocabulary lacks it. */
    private static int vocabularyId(String caseName, String token) throws IOException {
        Integer id = vocabulary(caseName).get(token);
        assertTrue(id != null, caseName + "/vocab.json has no token '" + token + "'");
        return id;
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
