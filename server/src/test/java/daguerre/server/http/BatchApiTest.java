package daguerre.server.http;

import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batch prompt files over HTTP: one job per good line, line-numbered errors for the bad ones. */
class BatchApiTest {

    @TempDir
    static Path dataDir;
    static TestServer<GradientTestEngine> server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dataDir);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void batchQueuesGoodLinesAndReportsBadOnes() throws Exception {
        String file = String.join("\n",
                "--prompt \"a lighthouse\" --steps 2 --seed 5 --sampler_name \"Euler a\"",
                "--prompt \"bad sampler\" --sampler_name Heun",
                "",
                "{\"prompt\": \"json line\", \"steps\": 1, \"width\": 70}",
                "{\"prompt\": \"json ok\", \"steps\": 1}",
                "plain prompt");
        HttpResponse<String> accepted = server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString(file)));
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode batch = json(accepted);
        String id = batch.get("id").asText();
        assertEquals(5, batch.get("total").asInt());
        assertEquals(2, batch.at("/counts/invalid").asInt());

        long deadline = System.nanoTime() + 20_000_000_000L;
        while (json(server.get("/api/v1/batches/" + id)).at("/counts/succeeded").asInt() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        JsonNode done = json(server.get("/api/v1/batches/" + id));
        assertEquals(3, done.at("/counts/succeeded").asInt(), done.toString());
        JsonNode lines = done.get("lines");
        assertEquals(1, lines.get(0).get("line").asInt());
        assertEquals("succeeded", lines.get(0).get("status").asText());
        assertEquals(1, lines.get(0).get("images").size());
        JsonNode job = json(server.get("/api/v1/jobs/" + lines.get(0).get("job_id").asText()));
        assertEquals("euler_a", job.at("/request/sampler").asText());
        assertEquals(5, job.at("/request/seed").asLong());

        assertEquals(2, lines.get(1).get("line").asInt());
        assertEquals("invalid", lines.get(1).get("status").asText());
        assertEquals("unknown_sampler", lines.get(1).at("/error/code").asText());
        assertEquals(4, lines.get(2).get("line").asInt());
        assertEquals("width", lines.get(2).at("/error/field").asText());
        assertEquals(5, lines.get(3).get("line").asInt());
        assertEquals(6, lines.get(4).get("line").asInt());
        assertTrue(lines.get(4).get("job_id").isTextual());
    }

    @Test
    void emptyBatchAndUnknownBatch() throws Exception {
        assertError(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches")).POST(HttpRequest.BodyPublishers.ofString("  \n"))),
                400, "invalid_value", null);
        assertError(server.get("/api/v1/batches/aaaaaaaaaaaaaaaaaaaa"), 404, "not_found", null);
        assertError(server.get("/api/v1/batches/..%2F..%2Fetc"), 404, "not_found", null);
    }
}
