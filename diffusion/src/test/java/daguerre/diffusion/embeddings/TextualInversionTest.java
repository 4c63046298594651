package daguerre.diffusion.embeddings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.text.ChunkedPrompt;
import daguerre.diffusion.text.ExtraTokens;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Textual-inversion embeddings on the tiny model: an embedding whose vectors are the token table's
 * own rows of some words conditions exactly as those words do, in every prompt position; what cannot
 * fit the model is listed as skipped with the reason.
 */
class TextualInversionTest {

    @TempDir
    Path temp;

    /** The token-table rows of {@code words}' tokens, [tokens, dim] row-major. */
    private static float[] rowsOf(StableDiffusionModel model, String words) {
        int[] ids = model.tokenizer().tokenIds(words);
        float[] table = model.textEncoder().namedParameters().get("text_model.embeddings.token_embedding.weight").floats();
        int dim = model.textEncoder().config().hiddenSize();
        float[] rows = new float[ids.length * dim];
        for (int i = 0; i < ids.length; i++) {
            System.arraycopy(table, ids[i] * dim, rows, i * dim, dim);
        }
        return rows;
    }

    private static GeneratedImage generate(StableDiffusionPipeline pipeline, String prompt, String negative) {
        return pipeline.generate(GenerationRequest.builder(prompt).negativePrompt(negative).sampler(Sampler.EULER).steps(4).seed(5).build(),
                GenerationListener.NONE, () -> false).get(0);
    }

    @Test
    void anEmbeddingOfAWordsOwnRowsConditionsAsThoseWords() throws IOException {
        Path folder = Files.createDirectories(temp.resolve("embeddings/sub"));
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            int dim = model.textEncoder().config().hiddenSize();
            float[] redApple = rowsOf(model, "red apple");
            int vectors = redApple.length / dim;
            SafetensorsWriter.write(folder.resolve("zqxstyle.safetensors"),
                    List.of(SafetensorsWriter.Tensor.f32("emb_params", new long[] {vectors, dim}, redApple)));
            SafetensorsWriter.write(folder.resolve("wrongsize.safetensors"),
                    List.of(SafetensorsWriter.Tensor.f32("emb_params", new long[] {1, dim + 8}, new float[dim + 8])));
            Files.write(folder.resolve("pickled.pt"), new byte[] {1, 2, 3});
            TextualInversionLibrary library = new TextualInversionLibrary(temp.resolve("embeddings"), new ModelHasher());
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF, null, library);

            GeneratedImage words = generate(pipeline, "a red apple on a table", "blurry red apple");
            GeneratedImage embedded = generate(pipeline, "a zqxstyle on a table", "blurry zqxstyle");
            assertEquals(0, Images.maxLevelDifference(words.image(), embedded.image()), "the embedding is not the words' rows");
            GeneratedImage without = generate(new StableDiffusionPipeline(model, VaeTiling.OFF), "a zqxstyle on a table", "blurry zqxstyle");
            assertTrue(Images.maxLevelDifference(words.image(), without.image()) > 2, "the trigger word alone looks like the words");

            String hash = HexFormat.of().formatHex(sha256(Files.readAllBytes(folder.resolve("zqxstyle.safetensors")))).substring(0, 12);
            assertEquals("zqxstyle: " + hash, embedded.infotext().parameters().get("TI hashes"));
            assertNull(words.infotext().parameters().get("TI hashes"));

            Map<String, TextualInversionLibrary.Listed> listed = library.list(model).stream()
                    .collect(Collectors.toMap(TextualInversionLibrary.Listed::name, l -> l));
            assertTrue(listed.get("zqxstyle").fits());
            assertEquals(vectors, listed.get("zqxstyle").vectors());
            assertFalse(listed.get("wrongsize").fits());
            assertTrue(listed.get("wrongsize").skippedBecause().contains("takes " + dim), listed.get("wrongsize").skippedBecause());
            assertTrue(listed.get("pickled").skippedBecause().contains("pickle"), listed.get("pickled").skippedBecause());
        }
    }

    @Test
    void anEmbeddingIsKeptWholeInOneChunk() throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            int dim = model.textEncoder().config().hiddenSize();
            int vocab = model.textEncoder().config().vocabSize();
            int[] trigger = model.tokenizer().tokenIds("zqxstyle");
            ExtraTokens extras = new ExtraTokens(List.of(new ExtraTokens.Entry("zqxstyle", trigger, new float[3 * dim], 3)), vocab, dim);
            int[] one = model.tokenizer().tokenIds("cat");
            assertEquals(1, one.length, "test needs a one-token word");
            String filler = "cat ".repeat(PromptEncoder.CHUNK_LENGTH - 2);   // 73 tokens: 2 places left, the embedding takes 3
            ChunkedPrompt chunked = PromptEncoder.chunk(model.tokenizer(), PromptEncoder.Options.DEFAULTS, filler + "zqxstyle", extras);
            assertEquals(2, chunked.chunks().size());
            int[] second = chunked.chunks().get(1).ids();
            assertEquals(vocab, second[1]);
            assertEquals(vocab + 2, second[3]);
            assertEquals(List.of("zqxstyle"), chunked.embeddings());
            int[] first = chunked.chunks().get(0).ids();
            for (int id : first) {
                assertTrue(id < vocab, "part of the embedding stayed in the first chunk");
            }
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
