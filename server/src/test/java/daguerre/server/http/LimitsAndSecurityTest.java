package daguerre.server.http;

import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.jobs.Limits;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Queue limit (429), disk space (507), API keys (401) and CORS. */
class LimitsAndSecurityTest {

    @TempDir
    Path dataDir;

    @Test
    void fullQueueGets429WithRetryAfterAndLosesNothing() throws Exception {
        GradientTestEngine engine = new GradientTestEngine(1);
        engine.hold();
        try (var server = TestServer.start(dataDir, engine, c -> c.withLimits(new Limits(512, 512, 50, 4, 2)))) {
            String running = server.submit("{\"prompt\":\"a\",\"steps\":3}");
            server.awaitStatus(running, "running");
            String first = server.submit("{\"prompt\":\"b\",\"steps\":3}");
            String second = server.submit("{\"prompt\":\"c\",\"steps\":3}");
            HttpResponse<String> refused = server.post("/api/v1/generations", "{\"prompt\":\"d\",\"steps\":3}");
            assertError(refused, 429, "queue_full", null);
            long retryAfter = Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow());
            assertTrue(retryAfter >= 1);
            assertEquals(2, json(server.get("/api/v1/jobs")).get("queue_depth").asInt());
            engine.release();
            for (String id : List.of(running, first, second)) {
                server.awaitStatus(id, "succeeded");
            }
            assertEquals(202, server.post("/api/v1/generations", "{\"prompt\":\"d\",\"steps\":1}").statusCode());
        } finally {
            engine.release();
        }
    }

    @Test
    void shortOfDiskSpaceGets507() throws Exception {
        try (var server = TestServer.start(dataDir, new GradientTestEngine(1), c -> c.withMinFreeDiskBytes(Long.MAX_VALUE / 2))) {
            assertError(server.post("/api/v1/generations", "{\"prompt\":\"a\"}"), 507, "insufficient_storage", null);
        }
    }

    @Test
    void apiKeysAreRequiredOnApiRoutesWhenConfigured() throws Exception {
        try (var server = TestServer.start(dataDir, new GradientTestEngine(1), c -> c.withApiKeys(List.of("s3cret")))) {
            HttpResponse<String> missing = server.get("/api/v1/models");
            assertError(missing, 401, "unauthorized", null);
            assertEquals("Bearer", missing.headers().firstValue("WWW-Authenticate").orElseThrow());
            assertError(server.send(HttpRequest.newBuilder(server.uri("/api/v1/models")).header("Authorization", "Bearer wrong")),
                    401, "unauthorized", null);
            HttpResponse<String> a1111 = server.get("/sdapi/v1/sd-models");
            assertEquals(401, a1111.statusCode());
            assertEquals("HTTPException", json(a1111).get("error").asText());
            HttpResponse<String> openai = server.post("/v1/images/generations", "{\"prompt\":\"x\"}");
            assertEquals(401, openai.statusCode());
            assertEquals("unauthorized", json(openai).at("/error/code").asText());
            assertEquals(401, server.get("/metrics").statusCode());
            assertEquals(200, server.send(HttpRequest.newBuilder(server.uri("/api/v1/models"))
                    .header("Authorization", "Bearer s3cret")).statusCode());
            assertEquals(200, server.get("/healthz").statusCode());
        }
    }

    @Test
    void corsAllowsConfiguredOriginsOnly() throws Exception {
        try (var server = TestServer.start(dataDir, new GradientTestEngine(1),
                c -> c.withCorsOrigins(List.of("https://app.example")))) {
            HttpResponse<String> preflight = server.send(HttpRequest.newBuilder(server.uri("/api/v1/generations"))
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                    .header("Origin", "https://app.example").header("Access-Control-Request-Method", "POST")
                    .header("Access-Control-Request-Headers", "content-type"));
            assertTrue(preflight.statusCode() < 300, "preflight status " + preflight.statusCode());
            assertEquals("https://app.example", preflight.headers().firstValue("Access-Control-Allow-Origin").orElseThrow());
            HttpResponse<String> other = server.send(HttpRequest.newBuilder(server.uri("/api/v1/models"))
                    .header("Origin", "https://evil.example"));
            assertTrue(other.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), other.headers().toString());
        }
    }
}
