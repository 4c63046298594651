package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.nn.Parity;
import daguerre.weights.Golden;
import daguerre.weights.TensorSource;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SDXL's two text encoders against transformers / diffusers 0.27.2 on {@code clip_text_tiny_xl}: both
 * tokenizers' ids, every hidden state of both encoders, encoder 2's text_embeds, and
 * {@code StableDiffusionXLPipeline.encode_prompt}'s embeddings, in the transformers and the SGM single-file
 * layouts. Shapes, ids, prompts and configs come from the case files; tolerances are {@link Parity#FACTOR}
 * times the README's observed float32-vs-float64 error.
 */
class ClipTextXlParityTest {

    private static final String CASE = "clip_text_tiny_xl";
    /** SDXL's tokenizer_2 pads with "!" (its tokenizer_config.json and special_tokens_map.json say so). */
    private static final String PAD_2 = "!";
    /** Self-consistency of our own float32 computations (chunked vs. plain encoding of the same ids), on values of size up to 1. */
    private static final double SELF_TOLERANCE = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    private NDManager manager;
    private ClipTokenizer tokenizer;
    private ClipTokenizer tokenizer2;
    private ClipTextConfig config;
    private ClipTextConfig config2;
    private Map<String, Double> observed;

    @BeforeEach
    void setUp() throws IOException {
        manager = NDManager.newBaseManager();
        tokenizer = ClipTokenizer.load(Golden.caseDir("clip_tokenizer"));
        tokenizer2 = ClipTokenizer.load(tokenizer2Folder());
        config = ClipTextConfig.load(Golden.file(CASE, "text_encoder_config.json"));
        config2 = ClipTextConfig.load(Golden.file(CASE, "text_encoder_2_config.json"));
        observed = Parity.observedErrors(CASE);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** SDXL's tokenizer_2 folder: the case's vocabulary with pad_token "!" in both JSON files. */
    private Path tokenizer2Folder() throws IOException {
        Path folder = temp.resolve("tokenizer_2");
        Files.createDirectories(folder);
        for (String name : List.of("vocab.json", "merges.txt")) {
            Files.copy(Golden.file("clip_tokenizer", name), folder.resolve(name));
        }
        for (String name : List.of("tokenizer_config.json", "special_tokens_map.json")) {
            ObjectNode json = (ObjectNode) Golden.json("clip_tokenizer", name);
            json.put("pad_token", PAD_2);
            Files.writeString(folder.resolve(name), JSON.writeValueAsString(json));
        }
        return folder;
    }

    private static List<String> prompts(SafetensorsFile io) throws IOException {
        String text = io.metadata().get("prompts");
        assertNotNull(text, "inputs_outputs.safetensors has no 'prompts' metadata");
        List<String> prompts = new ArrayList<>();
        JSON.readTree(text).forEach(p -> prompts.add(p.asText()));
        assertFalse(prompts.isEmpty(), "no prompts in the metadata");
        return prompts;
    }

    private static String negativePrompt(SafetensorsFile io) {
        String negative = io.metadata().get("negative_prompt");
        assertNotNull(negative, "inputs_outputs.safetensors has no 'negative_prompt' metadata");
        return negative;
    }

    private double tolerance(String name) {
        return Parity.tolerance(observed, name);
    }

    @Test
    void tokenizersGiveTheCaseIds() throws IOException {
        try (SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors")) {
            List<String> prompts = prompts(io);
            long[] shape = io.info("input_ids").shape();
            assertArrayEquals(shape, io.info("input_ids_2").shape());
            assertEquals(prompts.size(), shape[0]);
            int length = Math.toIntExact(shape[1]);
            long[] ids = io.longs("input_ids");
            long[] ids2 = io.longs("input_ids_2");
            assertEquals(tokenizer2.idOfToken(PAD_2).orElseThrow(), tokenizer2.padId());
            ClipTokenizer repadded = tokenizer.withPadToken(PAD_2);
            for (int b = 0; b < prompts.size(); b++) {
                String prompt = prompts.get(b);
                long[] expected = Arrays.copyOfRange(ids, b * length, (b + 1) * length);
                long[] expected2 = Arrays.copyOfRange(ids2, b * length, (b + 1) * length);
                assertArrayEquals(expected, longs(tokenizer.encode(prompt, length)), "tokenizer, prompt " + b);
                assertArrayEquals(expected2, longs(tokenizer2.encode(prompt, length)), "tokenizer_2, prompt " + b);
                assertArrayEquals(expected2, longs(repadded.encode(prompt, length)), "withPadToken, prompt " + b);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"transformers", "original"})
    void encodersMatchTransformers(String layout) throws IOException {
        SdxlPromptEncoder.TextEncoders encoders = load(layout);
        try (SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors");
             NDManager request = manager.newSubManager()) {
            List<String> report = new ArrayList<>();
            NDArray ids = ids(io, "input_ids", request);
            NDArray ids2 = ids(io, "input_ids_2", request);

            ClipTextOutput out = encoders.textEncoder().forward(ids);
            assertEquals(config.numHiddenLayers() + 1, out.hiddenStates().size());
            for (int k = 0; k <= config.numHiddenLayers(); k++) {
                compare(io, "te1_hidden_states_" + k, out.hiddenStates().get(k), report);
            }
            compare(io, "te1_last_hidden_state", out.lastHiddenState(), report);
            compare(io, "te1_pooler_output", out.poolerOutput(), report);

            ClipTextProjectionOutput out2 = encoders.textEncoder2().forwardWithProjection(ids2);
            assertEquals(config2.numHiddenLayers() + 1, out2.text().hiddenStates().size());
            for (int k = 0; k <= config2.numHiddenLayers(); k++) {
                compare(io, "te2_hidden_states_" + k, out2.text().hiddenStates().get(k), report);
                // the partial pass gives the same raw state
                compare(io, "te2_hidden_states_" + k,
                        encoders.textEncoder2().hiddenStateFromEnd(ids2, config2.numHiddenLayers() + 1 - k), report);
            }
            compare(io, "te2_last_hidden_state", out2.text().lastHiddenState(), report);
            compare(io, "te2_pooled_before_projection", out2.text().poolerOutput(), report);
            compare(io, "te2_text_embeds", out2.textEmbeds(), report);
            System.out.println(CASE + " " + layout + " encoders max abs err: " + String.join(", ", report));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"transformers", "original"})
    void encodePromptMatchesDiffusers(String layout) throws IOException {
        SdxlPromptEncoder.TextEncoders encoders = load(layout);
        SdxlPromptEncoder sdxl = new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS, true);
        // diffusers' clip_skip = 1 is our (A1111) clip skip 2
        SdxlPromptEncoder skip = new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS.withClipSkip(2), true);
        assertEquals(2, sdxl.hiddenStateFromEnd());
        try (SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors");
             NDManager request = manager.newSubManager()) {
            List<String> report = new ArrayList<>();
            List<String> prompts = prompts(io);
            NDArray ids = ids(io, "input_ids", request);
            NDArray ids2 = ids(io, "input_ids_2", request);

            SdxlPromptEncoder.Embeddings fromIds = sdxl.encodeIds(ids, ids2, request);
            compare(io, "prompt_embeds", fromIds.promptEmbeds(), report);
            compare(io, "pooled_prompt_embeds", fromIds.pooledPromptEmbeds(), report);
            SdxlPromptEncoder.Embeddings fromText = sdxl.encodeTruncated(prompts, request);
            compare(io, "prompt_embeds", fromText.promptEmbeds(), report);
            compare(io, "pooled_prompt_embeds", fromText.pooledPromptEmbeds(), report);
            SdxlPromptEncoder.Embeddings skipped = skip.encodeTruncated(prompts, request);
            compare(io, "prompt_embeds_clip_skip_1", skipped.promptEmbeds(), report);
            compare(io, "pooled_prompt_embeds", skipped.pooledPromptEmbeds(), report);

            // negative side, for the first prompt
            SdxlPromptEncoder.Embeddings first = sdxl.encodeTruncated(prompts.subList(0, 1), request);
            SdxlPromptEncoder.Embeddings negative = sdxl.negativeTruncated(negativePrompt(io), first, request);
            compare(io, "negative_prompt_embeds", negative.promptEmbeds(), report);
            compare(io, "negative_pooled_prompt_embeds", negative.pooledPromptEmbeds(), report);
            for (String absent : Arrays.asList(null, "")) {
                SdxlPromptEncoder.Embeddings zeros = sdxl.negativeTruncated(absent, first, request);
                assertZeros(first.promptEmbeds().getShape(), zeros.promptEmbeds());
                assertZeros(first.pooledPromptEmbeds().getShape(), zeros.pooledPromptEmbeds());
            }
            // without force_zeros_for_empty_prompt an empty negative prompt is encoded
            SdxlPromptEncoder encoding = new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS, false);
            SdxlPromptEncoder.Embeddings empty = encoding.negativeTruncated("", first, request);
            SdxlPromptEncoder.Embeddings emptyEncoded = sdxl.encodeTruncated(List.of(""), request);
            assertClose("empty negative", emptyEncoded.promptEmbeds(), empty.promptEmbeds());
            assertTrue(empty.promptEmbeds().abs().max().getFloat() > 0, "an encoded empty prompt is not zero");
            System.out.println(CASE + " " + layout + " encode_prompt max abs err: " + String.join(", ", report));
        }
    }

    /**
     * The A1111 path: with emphasis syntax off, each prompt of at most 75 tokens (for both tokenizers) is one
     * chunk and gives diffusers' embeddings; longer prompts are chunked, each chunk encoded by both encoders.
     */
    @ParameterizedTest
    @ValueSource(strings = {"transformers", "original"})
    void chunkedPromptsMatchDiffusersAndPlainChunks(String layout) throws IOException {
        SdxlPromptEncoder.TextEncoders encoders = load(layout);
        PromptEncoder.Options literal = new PromptEncoder.Options(1, PromptEncoder.Emphasis.NONE, 20);
        SdxlPromptEncoder sdxl = new SdxlPromptEncoder(encoders, literal, true);
        try (SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors");
             NDManager request = manager.newSubManager()) {
            List<String> prompts = prompts(io);
            long[] shape = io.info("prompt_embeds").shape();      // [N, 77, D1 + D2]
            long[] pooledShape = io.info("pooled_prompt_embeds").shape();  // [N, P]
            float[] expected = io.floats("prompt_embeds");
            float[] expectedPooled = io.floats("pooled_prompt_embeds");
            int perPrompt = Math.toIntExact(shape[1] * shape[2]);
            int perPooled = Math.toIntExact(pooledShape[1]);
            int single = 0;
            int chunked = 0;
            for (int b = 0; b < prompts.size(); b++) {
                String prompt = prompts.get(b);
                SdxlPromptEncoder.Embeddings e = sdxl.encode(prompt, request);
                int tokens = Math.max(tokenizer.tokenIds(prompt).length, tokenizer2.tokenIds(prompt).length);
                if (tokens <= PromptEncoder.CHUNK_LENGTH) {
                    single++;
                    assertEquals(new Shape(1, shape[1], shape[2]), e.promptEmbeds().getShape());
                    double err = Parity.assertClose("prompt_embeds of prompt " + b,
                            Arrays.copyOfRange(expected, b * perPrompt, (b + 1) * perPrompt),
                            new long[] {1, shape[1], shape[2]}, e.promptEmbeds(), tolerance("prompt_embeds"));
                    double errPooled = Parity.assertClose("pooled_prompt_embeds of prompt " + b,
                            Arrays.copyOfRange(expectedPooled, b * perPooled, (b + 1) * perPooled),
                            new long[] {1, perPooled}, e.pooledPromptEmbeds(), tolerance("pooled_prompt_embeds"));
                    System.out.printf("%s %s chunked prompt %d: prompt_embeds=%.3g pooled=%.3g%n", CASE, layout, b, err, errPooled);
                } else {
                    chunked++;
                    checkChunks(sdxl, literal, prompt, e, request);
                }
            }
            assertTrue(single > 0, "the case has no prompt of at most " + PromptEncoder.CHUNK_LENGTH + " tokens");
            // negative side: zeros for an empty one, the same length for a given one
            String longest = prompts.stream().reduce((a, c) -> c.length() > a.length() ? c : a).orElseThrow();
            List<SdxlPromptEncoder.Embeddings> zero = sdxl.encodeWithNegative(longest, "", request);
            assertZeros(zero.get(0).promptEmbeds().getShape(), zero.get(1).promptEmbeds());
            assertZeros(zero.get(0).pooledPromptEmbeds().getShape(), zero.get(1).pooledPromptEmbeds());
            List<SdxlPromptEncoder.Embeddings> pair = sdxl.encodeWithNegative(longest, negativePrompt(io), request);
            assertEquals(pair.get(0).promptEmbeds().getShape(), pair.get(1).promptEmbeds().getShape());
            assertClose("positive of the pair", zero.get(0).promptEmbeds(), pair.get(0).promptEmbeds());
            System.out.println(CASE + " " + layout + ": " + single + " single-chunk prompts, " + chunked + " chunked");
        }
    }

    /** Each 77-position block of a chunked prompt is both encoders on that chunk's ids; pooled is chunk 0's. */
    private void checkChunks(SdxlPromptEncoder sdxl, PromptEncoder.Options options, String prompt,
                             SdxlPromptEncoder.Embeddings e, NDManager request) {
        List<PromptChunk> chunks = PromptEncoder.chunk(tokenizer, options, prompt).chunks();
        List<PromptChunk> chunks2 = PromptEncoder.chunk(tokenizer2, options, prompt).chunks();
        int count = Math.max(chunks.size(), chunks2.size());
        assertTrue(count > 1, "a prompt of more than " + PromptEncoder.CHUNK_LENGTH + " tokens is chunked");
        int positions = PromptEncoder.CHUNK_LENGTH + 2;
        long dim = e.promptEmbeds().getShape().get(2);
        assertEquals(new Shape(1, (long) count * positions, dim), e.promptEmbeds().getShape());
        for (int c = 0; c < count; c++) {
            int[] chunkIds = c < chunks.size() ? chunks.get(c).ids() : tokenizer.encode("", positions);
            int[] chunkIds2 = c < chunks2.size() ? chunks2.get(c).ids() : tokenizer2.encode("", positions);
            SdxlPromptEncoder.Embeddings plain = sdxl.encodeIds(
                    request.create(longs(chunkIds), new Shape(1, positions)),
                    request.create(longs(chunkIds2), new Shape(1, positions)), request);
            NDArray block = e.promptEmbeds().get(new NDIndex(":, {}:{}, :", c * positions, (c + 1) * positions));
            assertClose("chunk " + c, plain.promptEmbeds(), block);
            if (c == 0) {
                assertClose("pooled of chunk 0", plain.pooledPromptEmbeds(), e.pooledPromptEmbeds());
            }
        }
    }

    /**
     * A1111 emphasis acts on each encoder's raw hidden states with its own tokens' weights ("Original": z * w,
     * rescaled to z's mean per chunk), written out here in plain Java; the pooled embedding is unweighted.
     */
    @Test
    void emphasisWeightsEachEncoder() throws IOException {
        SdxlPromptEncoder.TextEncoders encoders = load("transformers");
        SdxlPromptEncoder sdxl = new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS, true);
        String prompt = "a (cat:1.5) [dog]!";
        try (NDManager request = manager.newSubManager()) {
            SdxlPromptEncoder.Embeddings e = sdxl.encode(prompt, request);
            PromptChunk chunk = PromptEncoder.chunk(tokenizer, PromptEncoder.Options.DEFAULTS, prompt).chunks().get(0);
            PromptChunk chunk2 = PromptEncoder.chunk(tokenizer2, PromptEncoder.Options.DEFAULTS, prompt).chunks().get(0);
            int positions = chunk.ids().length;
            NDArray ids = request.create(longs(chunk.ids()), new Shape(1, positions));
            NDArray ids2 = request.create(longs(chunk2.ids()), new Shape(1, positions));
            float[] z = encoders.textEncoder().hiddenStateFromEnd(ids, 2).toFloatArray();
            float[] z2 = encoders.textEncoder2().hiddenStateFromEnd(ids2, 2).toFloatArray();
            float[] w1 = emphasized(z, chunk.multipliers());
            float[] w2 = emphasized(z2, chunk2.multipliers());
            int d1 = z.length / positions;
            int d2 = z2.length / positions;
            float[] expected = new float[z.length + z2.length];
            for (int i = 0; i < positions; i++) {
                System.arraycopy(w1, i * d1, expected, i * (d1 + d2), d1);
                System.arraycopy(w2, i * d2, expected, i * (d1 + d2) + d1, d2);
            }
            // the weights scale the states up (to 1.5 times here) and the rescale multiplies them again: the
            // float32 self-consistency bound is relative, so it scales with the largest expected value
            double scale = 0;
            for (float value : expected) {
                scale = Math.max(scale, Math.abs(value));
            }
            Parity.assertClose("emphasized prompt_embeds", expected, new long[] {1, positions, d1 + d2},
                    e.promptEmbeds(), SELF_TOLERANCE * Math.max(1, scale));
            SdxlPromptEncoder.Embeddings unweighted = sdxl.encodeIds(ids, ids2, request);
            assertClose("pooled ignores emphasis", unweighted.pooledPromptEmbeds(), e.pooledPromptEmbeds());
            assertTrue(maxAbsDiff(unweighted.promptEmbeds().toFloatArray(), e.promptEmbeds().toFloatArray()) > 1e-3,
                    "the weights change the embeddings");
        }
    }

    /** z [77, D] * w per position, then times mean(z) / mean(z * w). */
    private static float[] emphasized(float[] z, float[] weights) {
        int dim = z.length / weights.length;
        double before = 0;
        double after = 0;
        float[] out = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = z[i] * weights[i / dim];
            before += z[i];
            after += out[i];
        }
        float scale = (float) (before / after);
        for (int i = 0; i < out.length; i++) {
            out[i] *= scale;
        }
        return out;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    @Test
    void rejectsBadInput() throws IOException {
        SdxlPromptEncoder.TextEncoders encoders = load("transformers");
        int layers = Math.min(config.numHiddenLayers(), config2.numHiddenLayers());
        assertThrows(IllegalArgumentException.class,
                () -> new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS.withClipSkip(layers + 1), true));
        SdxlPromptEncoder sdxl = new SdxlPromptEncoder(encoders, PromptEncoder.Options.DEFAULTS.withClipSkip(layers), true);
        NDArray ids = manager.create(new long[] {0, 1}, new Shape(1, 2));
        NDArray ids3 = manager.create(new long[] {0, 1, 2}, new Shape(1, 3));
        assertThrows(IllegalArgumentException.class, () -> sdxl.encodeIds(ids, ids3, manager));
        assertThrows(IllegalArgumentException.class, () -> sdxl.encodeTruncated(List.of(), manager));
        assertThrows(IllegalArgumentException.class,
                () -> encoders.textEncoder2().hiddenStateFromEnd(ids, config2.numHiddenLayers() + 2));
    }

    // ---------------------------------------------------------------- helpers

    /** Both encoders from one layout, loaded strictly; the transformers files' parameter counts checked. */
    private SdxlPromptEncoder.TextEncoders load(String layout) throws IOException {
        ClipTextModel first = new ClipTextModel(config);
        ClipTextModelWithProjection second = new ClipTextModelWithProjection(config2);
        if (layout.equals("transformers")) {
            try (SafetensorsFile w1 = Golden.tensors(CASE, "text_encoder_transformers.safetensors");
                 SafetensorsFile w2 = Golden.tensors(CASE, "text_encoder_2_transformers.safetensors")) {
                first.load(w1, "", manager);
                second.load(w2, "", manager);
                assertEquals(weightCount(w1), first.parameterCount());
                assertEquals(weightCount(w2), second.parameterCount());
            }
        } else {
            try (SafetensorsFile original = Golden.tensors(CASE, "text_encoders_original.safetensors")) {
                TensorSource view1 = OriginalLayouts.clipText(original, OriginalLayouts.SDXL_CLIP_TEXT_PREFIX);
                TensorSource view2 = OriginalLayouts.sdxlOpenClipText(original);
                first.load(view1, "", manager);
                second.load(view2, "", manager);
            }
        }
        return new SdxlPromptEncoder.TextEncoders(tokenizer, first, tokenizer2, second);
    }

    private static long weightCount(SafetensorsFile file) throws IOException {
        long n = 0;
        for (String name : file.names()) {
            n += file.info(name).elementCount();
        }
        return n;
    }

    private static NDArray ids(SafetensorsFile io, String name, NDManager manager) throws IOException {
        return manager.create(io.longs(name), new Shape(io.info(name).shape()));
    }

    private static long[] longs(int[] ids) {
        return Arrays.stream(ids).asLongStream().toArray();
    }

    private void compare(SafetensorsFile io, String name, NDArray actual, List<String> report) {
        double err = Parity.assertClose(io, name, actual, tolerance(name));
        report.add(name + "=" + String.format("%.3g", err));
    }

    private static void assertZeros(Shape shape, NDArray actual) {
        assertEquals(shape, actual.getShape());
        for (float v : actual.toFloatArray()) {
            assertEquals(0f, v);
        }
    }

    private static void assertClose(String what, NDArray expected, NDArray actual) {
        Parity.assertClose(what, expected.toFloatArray(), expected.getShape().getShape(), actual, SELF_TOLERANCE);
    }
}
