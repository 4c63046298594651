package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.nn.Parity;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A1111-style prompt chunking and emphasis on the tiny golden text models. Token ids and counts come
 * from the case's tokenizer files, tolerances against the reference from the case README's
 * observed-error table; chunk sizes (75 tokens, 77 positions) are PromptEncoder's own A1111 rule.
 */
class PromptEncoderTest {

    /** Self-consistency of our own float32 computations (emphasis vs. the same arithmetic written out). */
    private static final double TOLERANCE = 1e-5;

    /** BOS + 75 prompt tokens + EOS. */
    private static final int POSITIONS = PromptEncoder.CHUNK_LENGTH + 2;

    @TempDir
    Path temp;

    private NDManager manager;
    private ClipTokenizer tokenizer;
    private ClipTextModel model;
    private PromptEncoder encoder;

    @BeforeEach
    void setUp() throws IOException {
        manager = NDManager.newBaseManager();
        tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        model = loadModel("clip_text_tiny");
        encoder = new PromptEncoder(tokenizer, model, PromptEncoder.Options.DEFAULTS);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private ClipTextModel loadModel(String caseName) throws IOException {
        ClipTextModel m = new ClipTextModel(ClipTextConfig.load(Golden.file(caseName, "config.json")));
        try (SafetensorsFile weights = Golden.tensors(caseName, "text_encoder_transformers.safetensors")) {
            m.load(weights, "", manager);
        }
        return m;
    }

    /** SD 2.x tokenizer folder: the toy vocabulary with pad_token "!". */
    private ClipTokenizer sd2Tokenizer() throws IOException {
        Path folder = temp.resolve("sd2-tokenizer");
        Files.createDirectories(folder);
        for (String name : List.of("vocab.json", "merges.txt", "tokenizer_config.json")) {
            Files.copy(Golden.file("clip_tokenizer", name), folder.resolve(name));
        }
        Files.writeString(folder.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
        return ClipTokenizer.load(folder);
    }

    /** Without emphasis syntax the encoder reproduces the reference pipeline's conditioning. */
    @Test
    void plainPromptsMatchGoldenLastAndPenultimateStates() throws IOException {
        checkGolden("clip_text_tiny", tokenizer);
        checkGolden("clip_text_tiny_gelu", sd2Tokenizer());
    }

    private void checkGolden(String caseName, ClipTokenizer caseTokenizer) throws IOException {
        ClipTextModel caseModel = loadModel(caseName);
        // brackets are literal text for the reference tokenizer: compare with emphasis off
        PromptEncoder.Options literal = new PromptEncoder.Options(1, PromptEncoder.Emphasis.NONE, 20);
        Map<String, Double> observed = Parity.observedErrors(caseName);
        try (SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            JsonNode prompts = new ObjectMapper().readTree(io.metadata().get("prompts"));
            long[] shape = io.info("last_hidden_state").shape();
            int perPrompt = Math.toIntExact(shape[1] * shape[2]);
            for (int clipSkip = 1; clipSkip <= 2; clipSkip++) {
                String name = clipSkip == 1 ? "last_hidden_state" : "penultimate_hidden_state_final_ln";
                float[] expected = io.floats(name);
                double tolerance = Parity.tolerance(observed, name);
                PromptEncoder e = new PromptEncoder(caseTokenizer, caseModel, literal.withClipSkip(clipSkip));
                for (int b = 0; b < prompts.size(); b++) {
                    NDArray context = e.encode(prompts.get(b).asText(), manager);
                    assertEquals(new Shape(1, shape[1], shape[2]), context.getShape());
                    double err = maxAbsDiff(Arrays.copyOfRange(expected, b * perPrompt, (b + 1) * perPrompt), context.toFloatArray());
                    System.out.println(caseName + " prompt " + b + " " + name + " via PromptEncoder max abs err " + err);
                    assertTrue(err <= tolerance, caseName + " " + name + " prompt " + b + ": " + err + " > " + tolerance);
                }
            }
        }
    }

    @Test
    void promptWithoutEmphasisEqualsPlainEncoder() {
        String prompt = "a photo of an astronaut riding a horse, highly detailed";
        PromptChunk chunk = encoder.chunk(prompt).chunks().get(0);
        assertArrayEquals(tokenizer.encode(prompt, POSITIONS), chunk.ids());
        NDArray ids = manager.create(Arrays.stream(tokenizer.encode(prompt, POSITIONS)).asLongStream().toArray(), new Shape(1, POSITIONS));
        for (int clipSkip = 1; clipSkip <= 2; clipSkip++) {
            PromptEncoder e = new PromptEncoder(tokenizer, model, PromptEncoder.Options.DEFAULTS.withClipSkip(clipSkip));
            assertArrayEquals(model.encode(ids, clipSkip).toFloatArray(), e.encode(prompt, manager).toFloatArray());
        }
    }

    @Test
    void weightsFollowTokens() {
        ChunkedPrompt chunked = encoder.chunk("a (cat:1.5) [dog]");
        assertEquals(1, chunked.chunks().size());
        PromptChunk first = chunked.chunks().get(0);
        int[] a = tokenizer.tokenIds("a ");
        int[] cat = tokenizer.tokenIds("cat");
        int[] dog = tokenizer.tokenIds("dog");
        float[] expected = new float[POSITIONS];
        Arrays.fill(expected, 1f);
        int p = 1 + a.length;
        for (int i = 0; i < cat.length; i++) {
            expected[p++] = 1.5f;
        }
        p += tokenizer.tokenIds(" ").length;
        for (int i = 0; i < dog.length; i++) {
            expected[p++] = (float) (1 / 1.1);
        }
        assertArrayEquals(expected, first.multipliers());
    }

    @Test
    void emphasisScalesTokensAndRestoresTheMean() {
        String prompt = "a (cat:1.5) on a [[mat]]";
        PromptChunk chunk = encoder.chunk(prompt).chunks().get(0);
        NDArray ids = manager.create(Arrays.stream(chunk.ids()).asLongStream().toArray(), new Shape(1, POSITIONS));
        float[] z = model.encode(ids, 1).toFloatArray();
        float[] w = chunk.multipliers();
        int dim = z.length / POSITIONS;
        double originalMean = 0;
        double weightedMean = 0;
        for (int i = 0; i < z.length; i++) {
            originalMean += z[i];
            weightedMean += z[i] * w[i / dim];
        }
        double ratio = originalMean / weightedMean;
        float[] expected = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            expected[i] = (float) (z[i] * w[i / dim] * ratio);
        }
        float[] actual = encoder.encode(prompt, manager).toFloatArray();
        assertTrue(maxAbsDiff(expected, actual) <= TOLERANCE, "emphasis differs by " + maxAbsDiff(expected, actual));
        double actualMean = 0;
        for (float v : actual) {
            actualMean += v;
        }
        assertEquals(originalMean / z.length, actualMean / z.length, 1e-6);

        PromptEncoder noNorm = new PromptEncoder(tokenizer, model, new PromptEncoder.Options(1, PromptEncoder.Emphasis.NO_NORM, 20));
        float[] scaledOnly = noNorm.encode(prompt, manager).toFloatArray();
        for (int i = 0; i < z.length; i++) {
            expected[i] = z[i] * w[i / dim];
        }
        assertTrue(maxAbsDiff(expected, scaledOnly) <= TOLERANCE);

        // "Ignore": brackets are parsed away, weights are not applied
        PromptEncoder ignore = new PromptEncoder(tokenizer, model, new PromptEncoder.Options(1, PromptEncoder.Emphasis.IGNORE, 20));
        assertArrayEquals(z, ignore.encode(prompt, manager).toFloatArray());
    }

    @Test
    void longPromptsSplitIntoChunksOf75() {
        String prompt = words("a", 100);
        assertOneToken("a");
        ChunkedPrompt chunked = encoder.chunk(prompt);
        assertEquals(2, chunked.chunks().size());
        assertEquals(100, chunked.tokenCount());
        int[] first = chunked.chunks().get(0).ids();
        int[] second = chunked.chunks().get(1).ids();
        int a = tokenizer.tokenIds("a")[0];
        assertEquals(tokenizer.bosId(), first[0]);
        assertTrue(IntStream.rangeClosed(1, PromptEncoder.CHUNK_LENGTH).allMatch(i -> first[i] == a));
        assertEquals(tokenizer.eosId(), first[POSITIONS - 1]);
        assertArrayEquals(tokenizer.encode(words("a", 25), POSITIONS), second);
        NDArray context = encoder.encode(prompt, manager);
        assertEquals(new Shape(1, 2 * POSITIONS, model.config().hiddenSize()), context.getShape());
        // 75 tokens exactly still fit one chunk; 76 need two
        assertEquals(1, encoder.chunk(words("a", 75)).chunks().size());
        assertEquals(2, encoder.chunk(words("a", 76)).chunks().size());
    }

    @Test
    void fullChunkBacktracksToACommaWithin20Tokens() {
        // 60 tokens, a comma (token 61), then 20 more: the chunk is full at 75 with the comma 15 back
        assertOneToken("a");
        assertOneToken(",");
        ChunkedPrompt chunked = encoder.chunk(words("a", 60) + "," + words(" a", 20));
        assertEquals(2, chunked.chunks().size());
        int[] first = chunked.chunks().get(0).ids();
        int comma = tokenizer.idOfToken(",</w>").getAsInt();
        assertEquals(comma, first[61]);
        assertEquals(tokenizer.eosId(), first[62]);
        assertArrayEquals(tokenizer.encode(words("a", 20), POSITIONS), chunked.chunks().get(1).ids());
        assertEquals(PromptEncoder.CHUNK_LENGTH + 20, chunked.tokenCount());

        // a comma 25 tokens back is too far: no backtracking
        ChunkedPrompt far = encoder.chunk(words("a", 50) + "," + words(" a", 30));
        assertEquals(comma, far.chunks().get(0).ids()[51]);
        assertEquals(tokenizer.idOfToken("a</w>").getAsInt(), far.chunks().get(0).ids()[75]);
        assertArrayEquals(tokenizer.encode(words("a", 6), POSITIONS), far.chunks().get(1).ids());

        // backtracking off
        PromptEncoder off = new PromptEncoder(tokenizer, model, new PromptEncoder.Options(1, PromptEncoder.Emphasis.ORIGINAL, 0));
        assertEquals(tokenizer.idOfToken("a</w>").getAsInt(), off.chunk(words("a", 60) + "," + words(" a", 20)).chunks().get(0).ids()[75]);
    }

    @Test
    void breakStartsANewChunk() {
        ChunkedPrompt chunked = encoder.chunk("a cat BREAK a dog");
        assertEquals(2, chunked.chunks().size());
        assertArrayEquals(tokenizer.encode("a cat", POSITIONS), chunked.chunks().get(0).ids());
        assertArrayEquals(tokenizer.encode("a dog", POSITIONS), chunked.chunks().get(1).ids());
        assertEquals(PromptEncoder.CHUNK_LENGTH + tokenizer.tokenIds("a dog").length, chunked.tokenCount());
        // a leading BREAK closes an empty chunk; a trailing one adds nothing (as in A1111)
        ChunkedPrompt leading = encoder.chunk("BREAK a cat");
        assertEquals(2, leading.chunks().size());
        assertArrayEquals(encoder.emptyChunk().ids(), leading.chunks().get(0).ids());
        assertEquals(1, encoder.chunk("a cat BREAK").chunks().size());
        PromptEncoder literal = new PromptEncoder(tokenizer, model, new PromptEncoder.Options(1, PromptEncoder.Emphasis.NONE, 20));
        assertEquals(1, literal.chunk("a cat BREAK a dog").chunks().size());
    }

    @Test
    void conditionAndNegativeArePaddedToTheSameLength() {
        String longPrompt = words("a", 80);
        List<NDArray> both = encoder.encodeSameLength(List.of(longPrompt, "a dog"), manager);
        long dim = model.config().hiddenSize();
        assertEquals(new Shape(1, 2 * POSITIONS, dim), both.get(0).getShape());
        assertEquals(new Shape(1, 2 * POSITIONS, dim), both.get(1).getShape());
        assertArrayEquals(encoder.encode(longPrompt, manager).toFloatArray(), both.get(0).toFloatArray());
        NDArray negative = both.get(1);
        assertArrayEquals(encoder.encode("a dog", manager).toFloatArray(), negative.get(new NDIndex(":, 0:" + POSITIONS + ", :")).toFloatArray());
        assertArrayEquals(encoder.encode("", manager).toFloatArray(), negative.get(new NDIndex(":, " + POSITIONS + ":" + 2 * POSITIONS + ", :")).toFloatArray());
    }

    @Test
    void sd2ChunksPadWithThePadTokenAfterTheFirstEos() throws IOException {
        ClipTokenizer sd2 = sd2Tokenizer();
        PromptEncoder e = new PromptEncoder(sd2, loadModel("clip_text_tiny_gelu"), PromptEncoder.Options.DEFAULTS);
        ChunkedPrompt chunked = e.chunk("a cat BREAK " + words("a", 75));
        assertEquals(2, chunked.chunks().size());
        assertArrayEquals(sd2.encode("a cat", POSITIONS), chunked.chunks().get(0).ids());
        assertEquals(sd2.padId(), chunked.chunks().get(0).ids()[2 + sd2.tokenIds("a cat").length]);  // after BOS ... EOS
        assertArrayEquals(sd2.encode(words("a", 75), POSITIONS), chunked.chunks().get(1).ids());
    }

    /** Request arrays stay in the request's manager, temporaries are freed, nothing lands in the weights' manager. */
    @Test
    void encodingKeepsOnlyTheResultAndNeverTouchesTheWeightsManager() {
        // ClipTextModel.load built the causal mask; from now on any attachment to the weights' manager throws
        ((BaseNDManager) manager).cap();
        try (NDManager request = NDManager.newBaseManager()) {
            NDArray context = encoder.encode("a (cat:1.3) BREAK " + words("a", 80), request);
            assertEquals(new Shape(1, 3 * POSITIONS, model.config().hiddenSize()), context.getShape());
            assertEquals(List.of(context), ((BaseNDManager) request).getManagedArrays());
        }
    }

    /**
     * The counting tests need single-token words: in a CLIP byte-level BPE vocabulary every one-character
     * word is a base token ("a</w>", ",</w>"), so this holds for any such case; it is checked, not assumed.
     */
    private void assertOneToken(String word) {
        assertEquals(1, tokenizer.tokenIds(word).length, "'" + word + "' is not one token in clip_tokenizer/vocab.json");
    }

    private static String words(String word, int count) {
        return IntStream.range(0, count).mapToObj(i -> word.strip()).collect(Collectors.joining(" ", word.startsWith(" ") ? " " : "", ""));
    }

    private static double maxAbsDiff(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        return max;
    }
}
