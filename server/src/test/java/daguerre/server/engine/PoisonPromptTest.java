package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.bench.MemoryStatus;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.config.ServeConfig;
import daguerre.server.testing.TestServer;
import daguerre.weights.model.ModelHasher;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A prompt of a megabyte, which once took the server past 12 GiB and crash-looped it, is refused on
 * every API family while the real pipeline serves; the longest prompt the limits accept (32 chunks
 * of 75 tokens) generates. The process's peak resident memory over all of it stays within a bound.
 */
class PoisonPromptTest {

    /** Growth of the peak RSS the whole test may cause: a tenth of what one such prompt once cost. */
    private static final double MAX_PEAK_GROWTH_GIB = 1.0;

    @TempDir
    Path temp;

    @Test
    void aMegabytePromptIsRefusedEverywhereAndMemoryStaysBounded() throws Exception {
        String huge = TestServer.JSON.writeValueAsString("red heart, ".repeat((1 << 20) / 11 + 1).substring(0, 1 << 20));
        Path model = TinyModelFolder.create(temp, "tiny");
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 1);
             TestServer<PipelineEngine> server = TestServer.start(temp.resolve("data"), engine, c -> c.withMaxBodyBytes(4 << 20))) {
            String longestAccepted = longestPrompt(engine, ServeConfig.defaults().limits().maxPromptChunks());
            boolean peakReset = MemoryStatus.resetPeak();
            double before = peakReset ? MemoryStatus.peakRssGib() : MemoryStatus.rssGib();
            for (int round = 0; round < 5; round++) {
                assertRefused(server.post("/api/v1/generations", "{\"prompt\":" + huge + ",\"steps\":1}"));
                assertRefused(server.post("/sdapi/v1/txt2img", "{\"prompt\":" + huge + ",\"steps\":1}"));
                assertRefused(server.post("/v1/images/generations", "{\"prompt\":" + huge + "}"));
            }
            String job = server.submit("{\"prompt\":\"" + longestAccepted + "\",\"negative_prompt\":\"" + longestAccepted
                    + "\",\"steps\":1,\"width\":64,\"height\":64}");
            server.awaitStatus(job, "succeeded");
            double after = peakReset ? MemoryStatus.peakRssGib() : MemoryStatus.rssGib();
            System.out.printf("%s RSS: %.3f GiB before, %.3f GiB after 15 megabyte prompts and one of 32 chunks%n",
                    peakReset ? "peak" : "current", before, after);
            assertTrue(after - before < MAX_PEAK_GROWTH_GIB, "RSS grew by " + (after - before) + " GiB");
        }
    }

    /** The most words "red" the model's own tokenizer fits in {@code chunks} chunks. */
    private static String longestPrompt(PipelineEngine engine, int chunks) {
        int low = 1;
        int high = chunks * 75;
        while (low < high) {
            int words = (low + high + 1) / 2;
            if (engine.promptChunks("tiny", "red ".repeat(words).strip()) <= chunks) {
                low = words;
            } else {
                high = words - 1;
            }
        }
        assertTrue(engine.promptChunks("tiny", "red ".repeat(low + 1).strip()) > chunks);
        return "red ".repeat(low).strip();
    }

    private static void assertRefused(HttpResponse<String> response) {
        assertTrue(response.statusCode() == 400 || response.statusCode() == 422, response.statusCode() + " " + response.body());
        assertTrue(response.body().length() < 10_000, "the error does not echo the whole prompt: " + response.body().length() + " chars");
    }
}
