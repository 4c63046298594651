package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.config.LogFormat;
import daguerre.server.config.ServeConfig;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's log of a real server: a line per request and per job state change, as text or JSON. */
class ServiceLogTest {

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-02T07:30:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dataDir;

    @Test
    void textLinesNameMethodRouteStatusTimeAndJob() throws Exception {
        List<String> lines = run(LogFormat.TEXT);
        String submit = lines.stream().filter(l -> l.contains("request POST /api/v1/generations 202")).findFirst().orElseThrow();
        assertTrue(submit.matches("2026-12-02T07:30:00Z INFO request POST /api/v1/generations 202 \\d+ms job=\\w+"), submit);
        String job = submit.replaceAll(".*job=", "");
        for (String state : List.of("queued", "running", "succeeded")) {
            assertTrue(lines.contains("2026-12-02T07:30:00Z INFO job " + job + " " + state), state + " in " + lines);
        }
        assertTrue(lines.stream().anyMatch(l -> l.matches(".* INFO request GET /api/v1/jobs/:id 200 \\d+ms job=" + job)), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.matches(".* INFO request GET /no%07such%0Apath 404 \\d+ms")),
                "unmatched paths are logged as sent, still percent-encoded: " + lines);
        assertTrue(lines.stream().noneMatch(l -> l.contains("progress") || l.contains("preview")), lines.toString());
    }

    /** A clock the test moves. */
    private static final class SteppedClock extends Clock {
        Instant now = Instant.parse("2026-12-02T07:30:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void clientErrorLinesAreRateLimitedAndTheGapIsCounted() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SteppedClock clock = new SteppedClock();
        ServiceLog log = new ServiceLog(LogFormat.TEXT, new PrintStream(bytes, true, StandardCharsets.UTF_8), clock);
        int flood = ServiceLog.CLIENT_ERROR_LINES_PER_SECOND + 30;
        for (int i = 0; i < flood; i++) {
            log.request("GET", "/bad", 400, 0, null);
        }
        log.request("GET", "/healthz", 200, 0, null);   // other lines are never held back
        clock.now = clock.now.plusSeconds(1);
        log.request("GET", "/bad", 404, 0, null);
        List<String> lines = Arrays.asList(bytes.toString(StandardCharsets.UTF_8).split("\n"));
        assertEquals(ServiceLog.CLIENT_ERROR_LINES_PER_SECOND, lines.stream().filter(l -> l.contains(" 400 ")).count(), lines.toString());
        assertTrue(lines.get(ServiceLog.CLIENT_ERROR_LINES_PER_SECOND).contains("/healthz 200"), lines.toString());
        // one report, at the next second's first line
        assertEquals("2026-12-02T07:30:01Z INFO suppressed 30 client-error request lines (over "
                + ServiceLog.CLIENT_ERROR_LINES_PER_SECOND + " a second)", lines.get(ServiceLog.CLIENT_ERROR_LINES_PER_SECOND + 1));
        assertTrue(lines.get(lines.size() - 1).contains("/bad 404"), "a new second has room again: " + lines);
        assertEquals(ServiceLog.CLIENT_ERROR_LINES_PER_SECOND + 3, lines.size(), lines.toString());
    }

    @Test
    void jsonLinesAreOneObjectEach() throws Exception {
        List<String> lines = run(LogFormat.JSON);
        JsonNode submit = null;
        for (String line : lines) {
            JsonNode json = TestServer.JSON.readTree(line);
            assertEquals("INFO", json.get("level").asText(), line);
            if (json.path("route").asText().equals("/api/v1/generations")) {
                submit = json;
            }
        }
        assertEquals("request", submit.get("event").asText());
        assertEquals("POST", submit.get("method").asText());
        assertEquals(202, submit.get("status").asInt());
        assertTrue(submit.get("ms").asLong() >= 0);
        String job = submit.get("job_id").asText();
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"event\":\"job\",\"job_id\":\"" + job + "\",\"state\":\"succeeded\"")),
                lines.toString());
    }

    @Test
    void clientTextCannotBreakALine() {
        assertEquals("a?b?c", ServiceLog.printable("a\nb\u0007c"));
        assertEquals(203, ServiceLog.printable("x".repeat(500)).length());
    }

    @Test
    void onlyTextAndJsonAreFormats() {
        assertEquals(LogFormat.JSON, LogFormat.named("JSON"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LogFormat.named("xml"));
        assertTrue(e.getMessage().contains("log-format must be text or json"), e.getMessage());
    }

    /** A job submitted and awaited, a job read, an unknown path with a control character; the lines logged. */
    private List<String> run(LogFormat format) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ServeConfig config = ServeConfig.defaults().withPort(0).withDataDir(dataDir.resolve("data-" + format));
        try (DaguerreServer server = DaguerreServer.start(config, new GradientTestEngine(1), new ServiceLog(format, out, CLOCK))) {
            HttpClient client = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> submitted = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/generations"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"steps\":1}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            String id = TestServer.JSON.readTree(submitted.body()).get("id").asText();
            for (int i = 0; i < 200; i++) {
                String body = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/jobs/" + id)).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                if (body.contains("\"succeeded\"")) {
                    break;
                }
                Thread.sleep(20);
            }
            client.send(HttpRequest.newBuilder(URI.create(base + "/no%07such%0Apath")).build(), HttpResponse.BodyHandlers.ofString());
            Thread.sleep(100);
        }
        return Arrays.asList(bytes.toString(StandardCharsets.UTF_8).split("\n"));
    }
}
