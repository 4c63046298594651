package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.testing.TestServer;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cancel takes effect inside the denoising step it arrives in: on the real pipeline at 6x the
 * tiny model's native size, where one step takes seconds, the job stops inside its first step
 * and within a tenth of the time one step with its decode takes. Both durations are measured in
 * this run (never against a fixed number of seconds).
 */
class CancelLatencyTest {

    @TempDir
    Path temp;

    private static final String LARGE = "\"width\":384,\"height\":384,\"sampler\":\"euler\",\"guidance_scale\":7.0,\"seed\":3";

    @Test
    void aCancelStopsTheJobWithinAFractionOfAStep() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 1);
             TestServer<PipelineEngine> server = TestServer.start(temp.resolve("data"), engine,
                     c -> c.withLimits(c.limits().withMaxPixels(384 * 384).withMaxJobCost(1000)))) {
            // one step and its decode, to know what a step costs here and now
            String measured = server.submit("{\"prompt\":\"a cat\",\"steps\":1," + LARGE + "}");
            long started = System.nanoTime();
            server.awaitStatus(measured, "running");
            server.awaitStatus(measured, "succeeded");
            double stepSeconds = (System.nanoTime() - started) / 1e9;

            String cancelled = server.submit("{\"prompt\":\"a cat\",\"steps\":3," + LARGE + "}");
            server.awaitStatus(cancelled, "running");
            Thread.sleep((long) (stepSeconds * 1000 / 4));
            long cancelAt = System.nanoTime();
            assertEquals(202, server.post("/api/v1/jobs/" + cancelled + "/cancel", "").statusCode());
            JsonNode job = server.awaitStatus(cancelled, "cancelled");
            double latencySeconds = (System.nanoTime() - cancelAt) / 1e9;
            System.out.printf("one 384 px step with its decode: %.2f s; cancel latency: %.3f s (%.1f%% of it)%n",
                    stepSeconds, latencySeconds, 100 * latencySeconds / stepSeconds);
            assertEquals(0, job.get("progress").get("step").asInt(), "the job stopped inside its first step: " + job);
            assertTrue(latencySeconds < stepSeconds / 10, "cancel took " + latencySeconds + " s; a step takes " + stepSeconds + " s");
        }
    }
}
