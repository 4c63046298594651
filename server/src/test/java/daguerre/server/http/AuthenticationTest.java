package daguerre.server.http;

import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With keys and Basic credentials configured, every route the router has (read from the Vert.x
 * router itself, so a new route is covered the day it is added) refuses anonymous requests, wrong
 * keys and wrong credentials with 401 in its API family's error shape; only {@code /healthz} and
 * the web UI's files stay open; the right key and the right credentials get in.
 */
class AuthenticationTest {

    private static final String KEY = "right-key";
    private static final String CREDENTIALS = "alice:right-pass";

    @TempDir
    Path dataDir;

    private static String basic(String credentials) {
        return "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    }

    private static TestServer<GradientTestEngine> startKeyed(Path dataDir) throws Exception {
        return TestServer.start(dataDir, new GradientTestEngine(1),
                c -> c.withApiKeys(List.of("other-key", KEY)).withApiAuth(List.of("bob:other", CREDENTIALS)));
    }

    /** The request a route answers, with {@code :param}s filled in. */
    private record Call(HttpMethod method, String path) {
        HttpRequest.Builder request(TestServer<?> server) {
            HttpRequest.BodyPublisher body = method == HttpMethod.POST || method == HttpMethod.PATCH
                    ? HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\"}") : HttpRequest.BodyPublishers.noBody();
            return HttpRequest.newBuilder(server.uri(path)).header("Content-Type", "application/json").method(method.name(), body);
        }
    }

    @Test
    void everyRegisteredRouteRefusesAnonymousAndWrongCredentials() throws Exception {
        try (var server = startKeyed(dataDir)) {
            List<Call> calls = new ArrayList<>();
            boolean sawWebUi = false;
            boolean sawHealth = false;
            for (Route route : server.server().router().getRoutes()) {
                String path = route.getPath();
                if (path == null) {
                    assertFalse(route.isRegexPath(), "a regex route is not covered by this test: " + route);
                    continue; // handlers every request passes (CORS, authentication, body, 404, failures)
                }
                if (path.equals("/healthz")) {
                    sawHealth = true;
                    continue;
                }
                if (path.equals("/") && !route.isExactPath()) {
                    sawWebUi = true; // the static UI shell ("/*"), checked below
                    continue;
                }
                String concrete = path.replaceAll(":[^/]+", "some-id");
                Set<HttpMethod> methods = route.methods().isEmpty() ? Set.of(HttpMethod.GET, HttpMethod.POST) : route.methods();
                methods.forEach(method -> calls.add(new Call(method, concrete)));
            }
            assertTrue(sawHealth && sawWebUi, "the router lost /healthz or the web UI");
            assertTrue(calls.size() >= 30, "only " + calls.size() + " routes found: " + calls);
            for (Call call : calls) {
                assertRefused(call, server.send(call.request(server)));
                assertRefused(call, server.send(call.request(server).header("Authorization", "Bearer wrong-key")));
                assertRefused(call, server.send(call.request(server).header("Authorization", "Bearer " + KEY + "x")));
                assertRefused(call, server.send(call.request(server).header("Authorization", basic("alice:wrong-pass"))));
                assertRefused(call, server.send(call.request(server).header("Authorization", basic(KEY))));
                assertRefused(call, server.send(call.request(server).header("Authorization", "Basic !!not-base64")));
                // a key is not a password, nor a password a key
                assertRefused(call, server.send(call.request(server).header("Authorization", "Bearer " + CREDENTIALS)));
            }
        }
    }

    /** 401, in the error shape of the path's API family. */
    private static void assertRefused(Call call, HttpResponse<String> response) throws Exception {
        assertEquals(401, response.statusCode(), call + ": " + response.body());
        JsonNode body = json(response);
        switch (ApiFamily.of(call.path())) {
            case NATIVE -> {
                assertEquals("unauthorized", body.at("/error/code").asText(), call + ": " + response.body());
                assertTrue(body.at("/error/field").isNull(), call + ": " + response.body());
            }
            case A1111 -> {
                assertEquals("HTTPException", body.get("error").asText(), call + ": " + response.body());
                assertTrue(body.has("detail") && body.has("body") && body.has("errors"), call + ": " + response.body());
            }
            case OPENAI -> {
                assertEquals("unauthorized", body.at("/error/code").asText(), call + ": " + response.body());
                assertEquals("invalid_request_error", body.at("/error/type").asText(), call + ": " + response.body());
            }
            default -> throw new AssertionError();
        }
    }

    @Test
    void healthAndTheWebUiShellStayOpenButNothingElseUnderIt() throws Exception {
        try (var server = startKeyed(dataDir)) {
            assertEquals(200, server.get("/healthz").statusCode());
            HttpResponse<String> shell = server.get("/");
            assertEquals(200, shell.statusCode());
            assertTrue(shell.body().contains("<html"), shell.body());
            assertEquals(200, server.get("/index.html").statusCode());
            assertEquals(200, server.get("/js/api.js").statusCode());
            assertEquals(200, server.get("/css/app.css").statusCode());
            // the catch-all UI route opens only the UI's own files
            assertEquals(401, server.get("/readyz").statusCode());
            assertEquals(401, server.get("/no-such-file").statusCode());
            assertEquals(401, server.post("/index.html", "{}").statusCode());
        }
    }

    @Test
    void theRightKeyOrCredentialsAreAcceptedOnEveryApiFamily() throws Exception {
        try (var server = startKeyed(dataDir)) {
            for (String authorization : List.of("Bearer " + KEY, "bearer other-key", basic(CREDENTIALS), basic("bob:other"))) {
                for (String path : List.of("/api/v1/models", "/sdapi/v1/sd-models", "/v1/models", "/metrics", "/readyz")) {
                    HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri(path)).header("Authorization", authorization));
                    assertEquals(200, response.statusCode(), authorization + " " + path + ": " + response.body());
                }
            }
            String job = json(server.send(HttpRequest.newBuilder(server.uri("/api/v1/generations")).header("Authorization", basic(CREDENTIALS))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"a\",\"steps\":1}"))))
                    .get("id").asText();
            HttpResponse<String> events = server.get("/api/v1/jobs/" + job + "/events?api_key=" + KEY);
            assertEquals(200, events.statusCode(), events.body());
        }
    }

    @Test
    void challengesNameTheAcceptedSchemes() throws Exception {
        try (var server = startKeyed(dataDir)) {
            Map<String, String> expected = Map.of("/api/v1/models", "Bearer", "/v1/models", "Bearer",
                    "/sdapi/v1/sd-models", "Bearer, Basic realm=\"daguerre\"");
            for (Map.Entry<String, String> entry : expected.entrySet()) {
                HttpResponse<String> response = server.get(entry.getKey());
                assertEquals(entry.getValue(), response.headers().firstValue("WWW-Authenticate").orElseThrow(), entry.getKey());
            }
        }
        try (var server = TestServer.start(dataDir.resolve("basic-only"), new GradientTestEngine(1),
                c -> c.withApiAuth(List.of(CREDENTIALS)))) {
            assertEquals(401, server.send(HttpRequest.newBuilder(server.uri("/sdapi/v1/sd-models"))
                    .header("Authorization", "Bearer " + CREDENTIALS)).statusCode());
            assertEquals(200, server.send(HttpRequest.newBuilder(server.uri("/sdapi/v1/sd-models"))
                    .header("Authorization", basic(CREDENTIALS))).statusCode());
            assertEquals("Basic realm=\"daguerre\"", server.get("/api/v1/models").headers().firstValue("WWW-Authenticate").orElseThrow());
        }
    }
}
