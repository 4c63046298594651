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

    /** {@code GET /api/v1/batches}: newest first, with names, counts and states, a page at a time. */
    @Test
    void batchesAreListedNewestFirstInPages() throws Exception {
        try (var own = TestServer.start(dataDir.resolve("list"))) {
            List<String> ids = new java.util.ArrayList<>();
            for (String name : List.of("first.txt", "second.txt", "third.txt")) {
                HttpResponse<String> accepted = own.send(HttpRequest.newBuilder(own.uri("/api/v1/batches?name=" + name))
                        .POST(HttpRequest.BodyPublishers.ofString("--prompt one --steps 1\n--prompt two --steps zero\n")));
                assertEquals(202, accepted.statusCode(), accepted.body());
                assertEquals(name, json(accepted).get("name").asText());
                ids.add(json(accepted).get("id").asText());
            }
            for (String id : ids) {
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (!json(own.get("/api/v1/batches/" + id)).get("state").asText().equals("done") && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
            }
            JsonNode first = json(own.get("/api/v1/batches?limit=2"));
            assertEquals(List.of(ids.get(2), ids.get(1)), first.get("items").findValues("id").stream().map(JsonNode::asText).toList());
            JsonNode newest = first.get("items").get(0);
            assertEquals("third.txt", newest.get("name").asText());
            assertEquals("done", newest.get("state").asText(), newest.toString());
            assertEquals(2, newest.get("total").asInt());
            assertEquals(1, newest.at("/counts/succeeded").asInt());
            assertEquals(1, newest.at("/counts/invalid").asInt());
            assertEquals("/api/v1/batches/" + ids.get(2), newest.at("/links/self").asText());
            assertTrue(newest.path("lines").isMissingNode(), "the list has no lines");
            JsonNode second = json(own.get("/api/v1/batches?limit=2&cursor=" + first.get("next_cursor").asText()));
            assertEquals(List.of(ids.get(0)), second.get("items").findValues("id").stream().map(JsonNode::asText).toList());
            assertTrue(second.get("next_cursor").isNull());
            assertError(own.get("/api/v1/batches?cursor=abc"), 400, "invalid_value", "cursor");
            assertError(own.get("/api/v1/batches?limit=201"), 400, "invalid_value", "limit");
            assertError(own.send(HttpRequest.newBuilder(own.uri("/api/v1/batches?name=" + "n".repeat(201)))
                    .POST(HttpRequest.BodyPublishers.ofString("a cat"))), 400, "invalid_value", "name");
        }
    }

    /**
     * {@code DELETE /api/v1/batches/{id}}: the running line stops, the queued ones are cancelled at once, the
     * bad line stays invalid; again is the same answer, an unknown batch 404.
     */
    @Test
    void cancellingABatchStopsItsRunningAndQueuedLines() throws Exception {
        try (var own = TestServer.start(dataDir.resolve("cancel"), new GradientTestEngine(1), c -> c)) {
            own.engine.hold();
            try {
                JsonNode batch = json(own.send(HttpRequest.newBuilder(own.uri("/api/v1/batches"))
                        .POST(HttpRequest.BodyPublishers.ofString("--prompt one --steps 3\ntwo\n--prompt bad --steps 0\nfour\n"))));
                String id = batch.get("id").asText();
                assertTrue(List.of("queued", "running").contains(batch.get("state").asText()), batch.toString());
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (json(own.get("/api/v1/batches/" + id)).at("/lines/0/progress/step").asInt() < 1 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                JsonNode running = json(own.get("/api/v1/batches/" + id));
                assertEquals("running", running.get("state").asText(), running.toString());
                assertEquals(3, running.at("/lines/0/progress/total").asInt(), running.toString());
                assertEquals("one", running.at("/lines/0/prompt").asText(), "the prompt, not the line");
                assertEquals("--prompt one --steps 3", running.at("/lines/0/source").asText());

                HttpResponse<String> cancelled = own.delete("/api/v1/batches/" + id);
                assertEquals(202, cancelled.statusCode(), "a running line is still stopping: " + cancelled.body());
                assertTrue(List.of("cancelling", "cancelled").contains(json(cancelled).get("state").asText()), cancelled.body());
                assertEquals("cancelled", json(cancelled).at("/lines/1/status").asText(), "a queued line is cancelled at once");
                while (!json(own.get("/api/v1/batches/" + id)).get("state").asText().equals("cancelled") && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                JsonNode done = json(own.get("/api/v1/batches/" + id));
                assertEquals(List.of("cancelled", "cancelled", "invalid", "cancelled"),
                        done.get("lines").findValues("status").stream().map(JsonNode::asText).toList(), done.toString());
                assertEquals(3, done.at("/counts/cancelled").asInt());
                assertTrue(done.get("cancelled_at").isTextual(), done.toString());
                HttpResponse<String> again = own.delete("/api/v1/batches/" + id);
                assertEquals(200, again.statusCode(), again.body());
                assertEquals(done.get("cancelled_at"), json(again).get("cancelled_at"), "the first cancel's time stays");
                assertEquals(done.get("lines"), json(again).get("lines"));
                assertError(own.delete("/api/v1/batches/aaaaaaaaaaaaaaaaaaaa"), 404, "not_found", null);
                assertEquals(0, json(own.get("/api/v1/jobs")).get("items").size(), "nothing of the batch is left in the queue");
            } finally {
                own.engine.release();
            }
        }
    }

    /**
     * A JSON array body is a list of native requests, one line per element, a bad element reported by
     * its number in the user's terms; other bodies keep their meaning (an object is one JSON line, text
     * that starts with "[" but is not JSON is a prompt).
     */
    @Test
    void aJsonArrayIsAListOfRequests() throws Exception {
        String list = "[{\"prompt\": \"array one\", \"steps\": 1, \"seed\": 4},\n \"just words\",\n"
                + " {\"prompt\": \"array three\", \"steps\": 9999},\n {\"prompt\": \"array four\", \"colour\": \"blue\"}]";
        HttpResponse<String> accepted = server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(list)));
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode lines = json(accepted).get("lines");
        assertEquals(4, json(accepted).get("total").asInt(), accepted.body());
        assertEquals("array one", lines.get(0).get("prompt").asText());
        assertEquals(4, json(server.get("/api/v1/jobs/" + lines.get(0).get("job_id").asText())).at("/request/seed").asLong());
        assertEquals("invalid", lines.get(1).get("status").asText());
        assertEquals("element 2 of the list is a string, not a request object such as {\"prompt\": \"a cat\"}",
                lines.get(1).at("/error/message").asText());
        assertEquals("\"just words\"", lines.get(1).get("source").asText());
        assertEquals("steps", lines.get(2).at("/error/field").asText());
        assertEquals("array three", lines.get(2).get("prompt").asText(), "a bad element still shows its prompt");
        assertEquals("unknown_field", lines.get(3).at("/error/code").asText());

        // a JSON object stays one JSON line; text that only starts like a list is a prompt
        JsonNode object = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"an object\", \"steps\": 1}"))));
        assertEquals(List.of("an object"), object.get("lines").findValues("prompt").stream().map(JsonNode::asText).toList());
        assertTrue(object.at("/lines/0/job_id").isTextual(), object.toString());
        JsonNode text = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches")).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("[a cat:a dog:0.5], oil painting"))));
        assertEquals("[a cat:a dog:0.5], oil painting", text.at("/lines/0/prompt").asText(), text.toString());
        assertTrue(text.at("/lines/0/job_id").isTextual(), text.toString());
    }

    /** Malformed JSON, as a whole list or as one line of a file, is described by where it is and what is wrong, never by the parser. */
    @Test
    void jsonErrorsSayWhereAndWhatWithoutParserInternals() throws Exception {
        HttpResponse<String> refused = server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString("[{\"prompt\": \"a\"},\n {prompt: \"b\"}]")));
        assertError(refused, 400, "invalid_json", null);
        String message = json(refused).at("/error/message").asText();
        assertTrue(message.contains("at line 2, column"), message);
        assertNoParserInternals(message);
        String early = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("[{\"prompt\": \"a\"")))).at("/error/message").asText();
        assertTrue(early.contains("ends too early"), early);
        assertNoParserInternals(early);

        JsonNode file = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .POST(HttpRequest.BodyPublishers.ofString("ok line\n{\"prompt\": 'single quotes'}\n{\"prompt\": \"x\"} trailing\n"))));
        for (int i = 1; i <= 2; i++) {
            JsonNode line = file.get("lines").get(i);
            assertEquals("invalid_json", line.at("/error/code").asText(), line.toString());
            assertTrue(line.at("/error/message").asText().startsWith("the line is not valid JSON: unexpected text at column "),
                    line.toString());
            assertNoParserInternals(line.at("/error/message").asText());
        }
    }

    private static void assertNoParserInternals(String message) {
        for (String internal : List.of("Unexpected character", "token", "Jackson", "fasterxml", "java.", "Source", "code 39", "was expecting")) {
            assertTrue(!message.contains(internal), "the message shows the parser's own words (" + internal + "): " + message);
        }
    }
}
