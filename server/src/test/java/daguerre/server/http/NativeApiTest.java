package daguerre.server.http;

import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

/** The native job API over real HTTP: generation, job status, cancel, models, samplers, errors. */
class NativeApiTest {

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
    void generationRunsToSuccessAndReportsItsImages() throws Exception {
        HttpResponse<String> accepted = server.post("/api/v1/generations",
                "{\"prompt\":\"a red fox\",\"steps\":3,\"seed\":42,\"n\":2,\"sampler\":\"ddim\"}");
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode body = json(accepted);
        String id = body.get("id").asText();
        assertTrue(body.get("status").asText().matches("queued|running"), body.toString());
        assertTrue(body.get("position").asInt() >= 0);
        assertEquals("/api/v1/jobs/" + id, body.at("/links/self").asText());
        assertEquals("/api/v1/jobs/" + id + "/events", body.at("/links/events").asText());
        assertEquals("/api/v1/jobs/" + id + "/cancel", body.at("/links/cancel").asText());

        JsonNode job = server.awaitStatus(id, "succeeded");
        assertEquals(2, job.get("images").size());
        assertEquals(3, job.at("/progress/step").asInt());
        assertEquals(3, job.at("/progress/total").asInt());
        assertEquals(42, job.at("/request/seed").asLong());
        assertEquals("tiny", job.at("/request/model").asText());
        assertEquals(64, job.at("/request/width").asInt());
        assertTrue(job.get("error").isNull());
        assertTrue(job.get("finished_at").asText().endsWith("Z"));
        HttpResponse<byte[]> png = server.getBytes("/api/v1/images/" + job.get("images").get(0).asText());
        assertEquals(200, png.statusCode());
        assertEquals("image/png", png.headers().firstValue("Content-Type").orElseThrow());
    }

    @Test
    void seedMinusOneBecomesARandomSeedThatIsRecorded() throws Exception {
        String id = server.submit("{\"prompt\":\"x\",\"steps\":1,\"seed\":-1}");
        JsonNode job = server.awaitStatus(id, "succeeded");
        long seed = job.at("/request/seed").asLong();
        assertTrue(seed >= 0 && seed < (1L << 32), "seed " + seed);
    }

    @Test
    void failingEngineMarksTheJobFailedWithAReason() throws Exception {
        String id = server.submit("{\"prompt\":\"please FAIL\",\"steps\":1}");
        JsonNode job = server.awaitStatus(id, "failed");
        assertEquals("generation_failed", job.at("/error/code").asText());
        assertTrue(job.at("/error/message").asText().contains("asked to fail"));
    }

    @Test
    void badRequestsGetNativeErrorsNamingTheField() throws Exception {
        assertError(server.post("/api/v1/generations", "{\"prompt\": "), 400, "invalid_json", null);
        assertError(server.post("/api/v1/generations", ""), 400, "invalid_json", null);
        assertError(server.post("/api/v1/generations", "[1,2]"), 400, "invalid_value", null);
        assertError(server.post("/api/v1/generations", "{\"steps\":3}"), 400, "missing_field", "prompt");
        assertError(server.post("/api/v1/generations", "{\"prompt\":7}"), 400, "invalid_type", "prompt");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"steps\":\"many\"}"), 400, "invalid_type", "steps");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"steps\":2.5}"), 400, "invalid_type", "steps");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"steps\":0}"), 400, "out_of_range", "steps");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"steps\":100000}"), 400, "out_of_range", "steps");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"width\":99999}"), 400, "out_of_range", "width");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"width\":100}"), 400, "invalid_value", "width");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"n\":1000}"), 400, "out_of_range", "n");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"guidance_scale\":\"high\"}"), 400, "invalid_type", "guidance_scale");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"seed\":-5}"), 400, "out_of_range", "seed");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"sampler\":\"heun\"}"), 400, "unknown_sampler", "sampler");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"model\":\"nope\"}"), 404, "model_not_found", "model");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"promt\":\"typo\"}"), 400, "unknown_field", "promt");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"init_image\":\"not base64!\"}"), 400, "invalid_value", "init_image");
    }

    @Test
    void oversizedBodyGets413() throws Exception {
        String big = "{\"prompt\":\"" + "a".repeat(2 << 20) + "\"}";
        HttpResponse<String> response = server.post("/api/v1/generations", big);
        assertError(response, 413, "body_too_large", null);
    }

    @Test
    void unknownAndMalformedJobIdsGet404() throws Exception {
        assertError(server.get("/api/v1/jobs/aaaaaaaaaaaaaaaaaaaa"), 404, "not_found", null);
        assertError(server.get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "not_found", null);
        assertError(server.post("/api/v1/jobs/..%2Fdaguerre.db/cancel", "{}"), 404, "not_found", null);
        assertError(server.get("/api/v1/jobs/aaaaaaaaaaaaaaaaaaaa/events"), 404, "not_found", null);
        assertError(server.get("/api/v1/nothing-here"), 404, "not_found", null);
    }

    @Test
    void cancelWhileQueuedAndWhileRunningThen409() throws Exception {
        server.engine.hold();
        try {
            String running = server.submit("{\"prompt\":\"long\",\"steps\":5}");
            server.awaitStatus(running, "running");
            String waiting = server.submit("{\"prompt\":\"waiting\",\"steps\":5}");
            assertEquals(1, json(server.get("/api/v1/jobs/" + waiting)).get("position").asInt());
            JsonNode queue = json(server.get("/api/v1/jobs"));
            assertEquals(1, queue.get("queue_depth").asInt());
            assertEquals(running, queue.get("items").get(0).get("id").asText());
            assertEquals(waiting, queue.get("items").get(1).get("id").asText());

            HttpResponse<String> cancelQueued = server.post("/api/v1/jobs/" + waiting + "/cancel", "");
            assertEquals(200, cancelQueued.statusCode(), cancelQueued.body());
            assertEquals("cancelled", json(cancelQueued).get("status").asText());

            HttpResponse<String> cancelRunning = server.post("/api/v1/jobs/" + running + "/cancel", "");
            assertEquals(202, cancelRunning.statusCode(), cancelRunning.body());
            JsonNode cancelled = server.awaitStatus(running, "cancelled");
            assertTrue(cancelled.get("images").isEmpty());

            assertError(server.post("/api/v1/jobs/" + running + "/cancel", ""), 409, "job_finished", null);
        } finally {
            server.engine.release();
        }
    }

    @Test
    void modelsAndSamplersAreListed() throws Exception {
        JsonNode models = json(server.get("/api/v1/models")).get("items");
        assertEquals("tiny", models.get(0).get("id").asText());
        assertEquals("0123456789", models.get(0).get("hash").asText());
        assertTrue(models.get(0).get("default").asBoolean());
        JsonNode samplers = json(server.get("/api/v1/samplers")).get("items");
        assertEquals(9, samplers.size());
        assertEquals("euler_a", samplers.get(5).get("name").asText());
        assertEquals("Euler a", samplers.get(5).get("a1111_name").asText());
    }

    @Test
    void healthReadinessMetricsAndOpenApi() throws Exception {
        assertEquals(200, server.get("/healthz").statusCode());
        HttpResponse<String> ready = server.get("/readyz");
        assertEquals(200, ready.statusCode());
        assertEquals("ready", json(ready).get("status").asText());
        String id = server.submit("{\"prompt\":\"metrics\",\"steps\":2}");
        server.awaitStatus(id, "succeeded");
        HttpResponse<String> metrics = server.get("/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain"));
        assertTrue(metrics.body().contains("daguerre_queue_depth "), metrics.body());
        assertTrue(metrics.body().contains("daguerre_jobs{state=\"succeeded\"} "), metrics.body());
        assertTrue(metrics.body().contains("daguerre_step_seconds_count "), metrics.body());
        assertNotEquals("daguerre_images_generated_total 0", metrics.body().lines()
                .filter(l -> l.startsWith("daguerre_images_generated_total")).findFirst().orElseThrow());
        JsonNode openApi = json(server.get("/api/v1/openapi.json"));
        assertTrue(openApi.get("openapi").asText().startsWith("3."));
        for (String path : new String[] {"/api/v1/generations", "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/cancel",
                "/api/v1/jobs/{id}/events", "/api/v1/images", "/api/v1/images/{id}", "/api/v1/batches", "/sdapi/v1/txt2img",
                "/v1/images/generations"}) {
            assertTrue(openApi.get("paths").has(path), path);
        }
    }

    @Test
    void methodNotAllowedUsesTheNativeErrorShape() throws Exception {
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri("/api/v1/generations")).GET());
        assertTrue(response.statusCode() == 405 || response.statusCode() == 404, response.body());
        assertTrue(json(response).at("/error/code").isTextual());
    }

    static void assertError(HttpResponse<String> response, int status, String code, String field) throws Exception {
        assertEquals(status, response.statusCode(), response.body());
        JsonNode error = json(response).get("error");
        assertEquals(code, error.get("code").asText(), response.body());
        assertTrue(error.get("message").asText().length() > 3, response.body());
        if (field == null) {
            assertTrue(error.get("field").isNull(), response.body());
        } else {
            assertEquals(field, error.get("field").asText(), response.body());
        }
    }
}
