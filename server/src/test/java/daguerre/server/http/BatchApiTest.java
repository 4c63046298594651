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
import java.util.List;
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

    @Test
    void aBodyOverTheLineLimitIsRefusedWholeAndQueuesNothing() throws Exception {
        try (var small = TestServer.start(dataDir.resolve("small"), new GradientTestEngine(1),
                c -> c.withLimits(c.limits().withMaxBatchLines(3)))) {
            HttpResponse<String> refused = small.send(HttpRequest.newBuilder(small.uri("/api/v1/batches"))
                    .POST(HttpRequest.BodyPublishers.ofString("a\n\nb\nc\nd\n")));
            assertError(refused, 413, "too_many_lines", null);
            assertTrue(json(refused).at("/error/message").asText().contains("--max-batch-lines"), refused.body());
            assertEquals(0, json(small.get("/api/v1/jobs")).get("items").size(), "nothing was queued");
            assertEquals(202, small.send(HttpRequest.newBuilder(small.uri("/api/v1/batches"))
                    .POST(HttpRequest.BodyPublishers.ofString("a\n\nb\nc\n"))).statusCode());
        }
    }

    @Test
    void batchLinesComeInPages() throws Exception {
        String file = "one\n--prompt two --steps zero\n\nthree\nfour\nfive\n";
        JsonNode created = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .POST(HttpRequest.BodyPublishers.ofString(file))));
        String id = created.get("id").asText();
        assertEquals(5, created.get("lines").size(), "one page holds up to 1,000 lines");
        assertTrue(created.get("next_cursor").isNull());

        JsonNode first = json(server.get("/api/v1/batches/" + id + "?limit=2"));
        assertEquals(List.of(1, 2), first.get("lines").findValues("line").stream().map(JsonNode::asInt).toList());
        assertEquals(5, first.get("total").asInt(), "the counts are of the whole batch");
        assertEquals(1, first.at("/counts/invalid").asInt());
        assertEquals("2", first.get("next_cursor").asText());
        assertEquals("/api/v1/batches/" + id + "?cursor=2", first.at("/links/next").asText());
        JsonNode second = json(server.get("/api/v1/batches/" + id + "?limit=2&cursor=" + first.get("next_cursor").asText()));
        assertEquals(List.of(4, 5), second.get("lines").findValues("line").stream().map(JsonNode::asInt).toList());
        JsonNode last = json(server.get("/api/v1/batches/" + id + "?limit=2&cursor=" + second.get("next_cursor").asText()));
        assertEquals(List.of(6), last.get("lines").findValues("line").stream().map(JsonNode::asInt).toList());
        assertTrue(last.get("next_cursor").isNull());
        assertError(server.get("/api/v1/batches/" + id + "?limit=0"), 400, "invalid_value", "limit");
        assertError(server.get("/api/v1/batches/" + id + "?cursor=-1"), 400, "invalid_value", "cursor");
        assertError(server.get("/api/v1/batches/" + id + "?limit=1001"), 400, "invalid_value", "limit");
    }

    @Test
    void aJsonLineTakesTheHiresFix() throws Exception {
        String file = "{\"prompt\": \"hires line\", \"steps\": 2, \"hires_fix\": {\"scale\": 1.5, \"upscaler\": \"Nearest\"}}\n"
                + "{\"prompt\": \"bad hires line\", \"steps\": 1, \"hires_fix\": {\"upscaler\": \"ESRGAN\"}}";
        HttpResponse<String> accepted = server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString(file)));
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode lines = json(server.get("/api/v1/batches/" + json(accepted).get("id").asText())).get("lines");
        assertEquals("hires_fix.upscaler", lines.get(1).at("/error/field").asText(), lines.toString());
        assertTrue(lines.get(0).has("job_id"), lines.toString());
        JsonNode job = json(server.get("/api/v1/jobs/" + lines.get(0).get("job_id").asText()));
        assertEquals(1.5, job.at("/request/hires_fix/scale").asDouble(), job.toString());
        assertEquals("Nearest", job.at("/request/hires_fix/upscaler").asText());
    }
}
