package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.RawHttp;
import daguerre.server.testing.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs that once reached a 500 or an answer outside the API family's error shape (found by
 * fuzzing): each now gets a 4xx whose JSON body is in the shape of the family its path belongs to.
 */
class ErrorShapeTest {

    @TempDir
    Path dataDir;
    GradientTestEngine engine;
    TestServer<GradientTestEngine> server;

    @BeforeEach
    void start() throws Exception {
        engine = new GradientTestEngine(1);
        server = TestServer.start(dataDir, engine, c -> c);
    }

    @AfterEach
    void stop() {
        engine.release();
        server.close();
    }

    /** Asserts the status and that the body is the error shape of {@code path}'s family; returns the error's message. */
    static String assertError(int status, String path, RawHttp.Response response) throws IOException {
        assertEquals(status, response.status(), () -> path + " answered " + response.status() + ": " + response.body());
        assertTrue(response.header("Content-Type").startsWith("application/json"), () -> path + ": " + response.headers());
        JsonNode body = TestServer.JSON.readTree(response.body());
        return switch (ApiFamily.of(path)) {
            case NATIVE -> {
                assertTrue(body.path("error").path("code").isTextual(), response::body);
                yield body.path("error").path("message").asText();
            }
            case A1111 -> {
                assertTrue(body.path("error").isTextual() && body.path("errors").isTextual(), response::body);
                yield body.path("detail").asText();
            }
            case OPENAI -> {
                assertTrue(body.path("error").path("type").isTextual() && body.path("error").has("param"), response::body);
                yield body.path("error").path("message").asText();
            }
        };
    }

    private RawHttp.Response post(String path, String contentType, String body) throws IOException {
        return RawHttp.send(server.port(), "POST", path, Map.of("Content-Type", contentType), body.getBytes(StandardCharsets.UTF_8));
    }

    private RawHttp.Response get(String target) throws IOException {
        return RawHttp.send(server.port(), "GET", target, Map.of(), null);
    }

    @Test
    void anUnknownCharsetIsA415InEachFamily() throws Exception {
        for (String path : new String[] {"/api/v1/generations", "/sdapi/v1/txt2img", "/v1/images/generations", "/api/v1/batches"}) {
            for (String charset : new String[] {"klingon", "\"\"", "utf-9", "x@y"}) {
                String message = assertError(415, path, post(path, "application/json; charset=" + charset, "{\"prompt\":\"a\"}"));
                assertTrue(message.contains("charset"), message);
            }
        }
        // a charset the JVM knows is honoured: the prompt arrives as sent
        byte[] latin1 = "{\"prompt\":\"caf\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);
        RawHttp.Response accepted = RawHttp.send(server.port(), "POST", "/api/v1/generations",
                Map.of("Content-Type", "application/json; charset=ISO-8859-1"), latin1);
        assertEquals(202, accepted.status(), accepted.body());
        String id = TestServer.JSON.readTree(accepted.body()).path("id").asText();
        assertEquals("caf\u00e9", TestServer.json(server.get("/api/v1/jobs/" + id)).path("request").path("prompt").asText());
    }

    @Test
    void galleryTimesBeyondEpochMillisecondsAre400s() throws Exception {
        for (String time : new String[] {"%2B1000000000-01-01T00:00:00Z", "-999999999-01-01T00:00:00Z", "%2B999999999-12-31"}) {
            for (String name : new String[] {"from", "to"}) {
                String message = assertError(400, "/api/v1/images", get("/api/v1/images?" + name + "=" + time));
                assertTrue(message.startsWith(name + " must be"), message);
            }
        }
    }

    @Test
    void searchTextIsNeverFts5Syntax() throws Exception {
        server.awaitStatus(server.submit("{\"prompt\":\"a red fox\"}"), "succeeded");
        for (String q : new String[] {"%00", "red%00fox", "a%20OR%20%22", "%22", "NEAR(a%20b)", "*", "red%20AND", "-fox", "%01%02"}) {
            RawHttp.Response response = get("/api/v1/images?q=" + q);
            assertEquals(200, response.status(), () -> q + ": " + response.body());
        }
        assertEquals(1, TestServer.JSON.readTree(get("/api/v1/images?q=red%00fox").body()).path("items").size(),
                "a control character separates words");
    }

    @Test
    void a1111WidthBelowEightIsReportedAsSent() throws Exception {
        String message = assertError(422, "/sdapi/v1/txt2img", post("/sdapi/v1/txt2img", "application/json", "{\"prompt\":\"a\",\"width\":7}"));
        assertTrue(message.contains("got 7"), message);
    }

    @Test
    void anOpenAiGenerationCancelledThroughTheNativeApiIsA409() throws Exception {
        engine.hold();
        CompletableFuture<RawHttp.Response> answer = CompletableFuture.supplyAsync(() -> {
            try {
                return post("/v1/images/generations", "application/json", "{\"prompt\":\"a cat\",\"size\":\"64x64\"}");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String jobId = null;
        for (int i = 0; i < 3000 && jobId == null; i++) {
            JsonNode items = TestServer.json(server.get("/api/v1/jobs")).path("items");
            jobId = items.size() == 1 ? items.get(0).path("id").asText() : null;
            Thread.sleep(5);
        }
        assertEquals(202, server.post("/api/v1/jobs/" + jobId + "/cancel", "").statusCode());
        String message = assertError(409, "/v1/images/generations", answer.get());
        assertTrue(message.contains("cancelled"), message);
    }

    @Test
    void errorsBeforeRoutingAreInTheFamilyShape() throws Exception {
        for (String path : new String[] {"/api/v1/jobs/", "/sdapi/v1/", "/v1/images/"}) {
            int badRequest = ApiFamily.of(path) == ApiFamily.A1111 ? 422 : 400;   // A1111 answers every 400 as 422
            assertError(badRequest, path, get(path + "%zz"));
            assertError(badRequest, path, get(path + "a%2"));
            assertError(badRequest, path, get(path + "x?q=%zz"));
            // the decoder gives up before it has a path: the native shape
            assertError(414, "/", get(path + "a".repeat(10_000)));
        }
        assertError(431, "/", RawHttp.send(server.port(), "GET", "/api/v1/jobs", Map.of("X-Big", "b".repeat(10_000)), null));
        assertError(400, "/", RawHttp.exchange(server.port(), "GET /api/v1/jobs HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII)));
        assertError(400, "/api/v1/ws", get("/api/v1/ws"));
        assertEquals(200, server.get("/healthz").statusCode());
    }
}
