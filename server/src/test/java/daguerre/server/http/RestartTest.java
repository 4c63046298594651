package daguerre.server.http;

import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jobs survive a restart: the running one is re-queued and runs again, queued ones run, finished ones stay. */
class RestartTest {

    @TempDir
    Path dataDir;

    @Test
    void restartWithAJobInFlightLosesNothing() throws Exception {
        GradientTestEngine engine = new GradientTestEngine(1);
        engine.hold();
        try (var server = TestServer.start(dataDir, engine, c -> c)) {
            String finished = server.submit("{\"prompt\":\"before\",\"steps\":1}");
            engine.release();
            server.awaitStatus(finished, "succeeded");
            engine.hold();
            String inFlight = server.submit("{\"prompt\":\"in flight\",\"steps\":4,\"seed\":11}");
            server.awaitStatus(inFlight, "running");
            String queued = server.submit("{\"prompt\":\"queued\",\"steps\":2}");
            int startedBefore = engine.started();

            Path leftover = dataDir.resolve("images").resolve("ab").resolve(".abcdefghijklmnopqrst.png.tmp");
            java.nio.file.Files.createDirectories(leftover.getParent());
            java.nio.file.Files.write(leftover, new byte[] {1, 2, 3});
            server.restart();
            assertTrue(java.nio.file.Files.notExists(leftover), "half-written files from a crash are removed");
            JsonNode requeued = json(server.get("/api/v1/jobs/" + inFlight));
            assertEquals(1, requeued.get("requeued").asInt(), requeued.toString());
            assertTrue(requeued.get("status").asText().matches("queued|running"), requeued.toString());
            engine.release();

            JsonNode done = server.awaitStatus(inFlight, "succeeded");
            assertEquals(11, done.at("/request/seed").asLong());
            assertEquals(1, done.get("requeued").asInt());
            server.awaitStatus(queued, "succeeded");
            assertEquals("succeeded", json(server.get("/api/v1/jobs/" + finished)).get("status").asText());
            assertTrue(engine.started() > startedBefore, "the re-queued job ran again");
            assertEquals(200, server.getBytes("/api/v1/images/" + done.get("images").get(0).asText()).statusCode());
        } finally {
            engine.release();
        }
    }
}
