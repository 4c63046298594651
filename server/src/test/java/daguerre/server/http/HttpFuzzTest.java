package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.Limits;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded, bounded fuzz test of the real HTTP server on loopback: a raw-socket HTTP/1.1 client
 * sends requests over every route (valid bodies, bodies with one field mutated, invalid JSON,
 * garbage, mutated query strings) and protocol oddities (malformed request lines, bad
 * percent-escapes, long URIs, odd methods, unknown charsets, missing or huge Content-Length,
 * the WebSocket path without an upgrade). Every response must be no 5xx (but a not-ready
 * {@code /readyz}), every 4xx must carry a JSON error body in the shape of its path's API family,
 * every JSON 2xx body must parse, every request must get an answer, and the server must still be
 * healthy at the end.
 *
 * <p>{@code -Dfuzz.seed=N} (default 20261202) and {@code -Dfuzz.requests=N} (default 2500); every
 * request is derived from the one {@link Random}, so a seed reproduces the run (the server's own
 * ids and timing still vary).
 */
class HttpFuzzTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ID = Pattern.compile("\"([a-z2-7]{20})\"");
    /** How long a request may go unanswered; generation and event-stream routes wait for jobs and get longer. */
    private static final int READ_TIMEOUT_MILLIS = 2_000;
    private static final int SLOW_READ_TIMEOUT_MILLIS = 10_000;
    private static final Set<String> SLOW_ROUTES = Set.of("/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/v1/images/generations",
            "/v1/images/edits",
            "/api/v1/jobs/{id}/events");
    private static final int MAX_RESPONSE_BYTES = 16 << 20;
    private static final String HUGE_DOUBLE = "\u0001HUGE_DOUBLE\u0001";
    private static final String HUGE_LONG = "\u0001HUGE_LONG\u0001";
    private static final String NAN = "\u0001NAN\u0001";
    private static final String DEEP = "\u0001DEEP\u0001";

    @TempDir
    Path dataDir;

    /** A route the service mounts: its template and the methods it answers. */
    private record Route(String template, List<String> methods) {}

    private static final List<Route> ROUTES = List.of(
            new Route("/api/v1/generations", List.of("POST")),
            new Route("/api/v1/jobs", List.of("GET")),
            new Route("/api/v1/jobs/{id}", List.of("GET")),
            new Route("/api/v1/jobs/{id}/cancel", List.of("POST")),
            new Route("/api/v1/jobs/{id}/rerun", List.of("POST")),
            new Route("/api/v1/prompts", List.of("GET")),
            new Route("/api/v1/jobs/{id}/events", List.of("GET")),
            new Route("/api/v1/ws", List.of("GET")),
            new Route("/api/v1/models", List.of("GET")),
            new Route("/api/v1/samplers", List.of("GET")),
            new Route("/api/v1/upscalers", List.of("GET")),
            new Route("/api/v1/images", List.of("GET")),
            new Route("/api/v1/images/sizes", List.of("GET")),
            new Route("/api/v1/images/bulk", List.of("POST")),
            new Route("/api/v1/images/zip", List.of("POST")),
            new Route("/api/v1/boards", List.of("GET", "POST")),
            new Route("/api/v1/boards/{id}", List.of("PATCH", "DELETE")),
            new Route("/api/v1/images/{id}", List.of("GET", "PATCH", "DELETE")),
            new Route("/api/v1/images/{id}/thumbnail", List.of("GET")),
            new Route("/api/v1/images/{id}/metadata", List.of("GET")),
            new Route("/api/v1/styles", List.of("GET")),
            new Route("/api/v1/styles.csv", List.of("GET")),
            new Route("/api/v1/styles/import", List.of("POST")),
            new Route("/api/v1/styles/{id}", List.of("GET", "PUT", "DELETE")),
            new Route("/api/v1/batches", List.of("POST")),
            new Route("/api/v1/batches/{id}", List.of("GET")),
            new Route("/api/v1/openapi.json", List.of("GET")),
            new Route("/healthz", List.of("GET")),
            new Route("/readyz", List.of("GET")),
            new Route("/metrics", List.of("GET")),
            new Route("/sdapi/v1/txt2img", List.of("POST")),
            new Route("/sdapi/v1/img2img", List.of("POST")),
            new Route("/sdapi/v1/progress", List.of("GET")),
            new Route("/sdapi/v1/interrupt", List.of("POST")),
            new Route("/sdapi/v1/skip", List.of("POST")),
            new Route("/sdapi/v1/samplers", List.of("GET")),
            new Route("/sdapi/v1/schedulers", List.of("GET")),
            new Route("/sdapi/v1/sd-models", List.of("GET")),
            new Route("/sdapi/v1/refresh-checkpoints", List.of("POST")),
            new Route("/sdapi/v1/options", List.of("GET", "POST")),
            new Route("/sdapi/v1/png-info", List.of("POST")),
            new Route("/sdapi/v1/upscalers", List.of("GET")),
            new Route("/sdapi/v1/latent-upscale-modes", List.of("GET")),
            new Route("/sdapi/v1/extra-single-image", List.of("POST")),
            new Route("/sdapi/v1/sd-vae", List.of("GET")),
            new Route("/sdapi/v1/loras", List.of("GET")),
            new Route("/sdapi/v1/prompt-styles", List.of("GET")),
            new Route("/sdapi/v1/embeddings", List.of("GET")),
            new Route("/sdapi/v1/memory", List.of("GET")),
            new Route("/sdapi/v1/cmd-flags", List.of("GET")),
            new Route("/internal/ping", List.of("GET")),
            new Route("/v1/images/generations", List.of("POST")),
            new Route("/v1/images/edits", List.of("POST")),
            new Route("/v1/models", List.of("GET")),
            new Route("/{static}", List.of("GET")));

    private static final List<String> METHODS = List.of("GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS");
    private static final List<String> ODD_METHODS = List.of("FOO", "PROPFIND", "TRACE", "CONNECT", "get", "G\u00c9T", "M-SEARCH",
            "PURGE", "LINK", "QUERY", "X".repeat(40));
    private static final List<String> STATIC_PATHS = List.of("/", "/index.html", "/favicon.ico", "/nope.js", "/app.js",
            "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/.git/config", "/api/v2/x", "/api/v1/nope", "/api/v1/",
            "/api", "/sdapi/v1/nope", "/v1/nope", "/internal/nope", "/index.html/", "/%C3%A9t%C3%A9", "/a;b=c",
            "/WEB-INF/web.xml", "/assets/../index.html");
    private static final List<String> CONTENT_TYPES = List.of("application/json; charset=klingon", "application/json; charset=utf-8",
            "application/json; charset=iso-8859-1", "application/json; charset=UTF-16", "application/json; charset=",
            "application/json;charset=\"utf-8\"", "text/plain", "text/plain; charset=utf-8", "application/octet-stream",
            "multipart/form-data; boundary=xyz", "multipart/form-data", "application/x-www-form-urlencoded", "%%%",
            "application/json; charset=utf-8; charset=klingon", "image/png", "application/*", "");

    private final Set<String> knownIds = new LinkedHashSet<>();
    private String pngBase64;

    /** One generated request: what it is (for reports) and its bytes on the wire. */
    private record Request(int index, String method, String target, String template, String contentType, String kind, byte[] wire) {

        String path() {
            int query = target.indexOf('?');
            return query < 0 ? target : target.substring(0, query);
        }

        String describe() {
            String shown = target.length() > 120 ? target.substring(0, 120) + "...(" + target.length() + " chars)" : target;
            return "#" + index + " " + printable(method) + " " + printable(shown) + " [" + kind + "] ct=" + printable(contentType);
        }
    }

    /** A parsed response (status -1 when none came). */
    private record Response(int status, Map<String, String> headers, byte[] body, String error, boolean chunked) {

        Response(int status, Map<String, String> headers, byte[] body, String error) {
            this(status, headers, body, error, false);
        }

        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    @Test
    void theServerAnswersEveryRequestWithoutServerErrorsAndInItsFamilysErrorShape() throws Exception {
        long seed = Long.getLong("fuzz.seed", 20261202L);
        int count = Integer.getInteger("fuzz.requests", 2500);
        Random random = new Random(seed);
        pngBase64 = Base64.getEncoder().encodeToString(png(8, 8));
        GradientTestEngine engine = new GradientTestEngine(0);
        Map<Integer, Integer> statusCounts = new TreeMap<>();
        Map<String, String> distinctFailures = new LinkedHashMap<>();
        int failures = 0;
        int chunkedResponses = 0;
        long started = System.nanoTime();
        boolean healthy;
        try (var server = TestServer.start(dataDir, engine, c -> c.withLimits(new Limits(512, 512, 50, 4, 5)))) {
            int port = server.port();
            for (int i = 0; i < count; i++) {
                Request request = generate(random, i);
                Response response = exchange(port, request.wire(), request.method().equals("HEAD"),
                        SLOW_ROUTES.contains(request.template()) ? SLOW_READ_TIMEOUT_MILLIS : READ_TIMEOUT_MILLIS);
                statusCounts.merge(response.status(), 1, Integer::sum);
                if (response.chunked()) {
                    chunkedResponses++;
                }
                if (response.status() > 0) {
                    Matcher ids = ID.matcher(response.bodyText());
                    while (ids.find() && knownIds.size() < 500) {
                        knownIds.add(ids.group(1));
                    }
                }
                String problem = check(request, response);
                if (problem != null) {
                    failures++;
                    String method = request.method().matches("[A-Za-z-]{1,20}") ? request.method() : "<junk>";
                    String key = method + " " + request.template() + " " + statusLabel(response);
                    distinctFailures.putIfAbsent(key, problem + " <- " + request.describe() + " -> " + statusLabel(response)
                            + " ct=" + response.headers().getOrDefault("content-type", "-") + " body=" + snippet(response));
                }
            }
            Response health = exchange(port, ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1), false, READ_TIMEOUT_MILLIS);
            healthy = health.status() == 200;
            if (!healthy) {
                failures++;
                distinctFailures.put("final GET /healthz", "the server is not healthy at the end: " + statusLabel(health) + " " + snippet(health));
            }
        }
        StringBuilder summary = new StringBuilder();
        summary.append("HttpFuzzTest seed=").append(seed).append(" requests=").append(count)
                .append(" time=").append((System.nanoTime() - started) / 1_000_000).append(" ms\n");
        summary.append("status counts (-1 = no answer): ").append(statusCounts).append(", chunked responses read: ")
                .append(chunkedResponses).append('\n');
        summary.append(String.format(Locale.ROOT, "peak RSS of the test JVM (server and client): %.3f GiB%n",
                daguerre.diffusion.bench.MemoryStatus.peakRssGib()));
        summary.append("failures: ").append(failures).append(", distinct (method route status): ").append(distinctFailures.size()).append('\n');
        // the worst first: no answers, then server errors, then wrong error bodies; each group in order of first occurrence
        List<Map.Entry<String, String>> ordered = new ArrayList<>(distinctFailures.entrySet());
        ordered.sort(java.util.Comparator.comparingInt(e -> e.getValue().startsWith("no answer") ? 0
                : e.getValue().startsWith("server error") ? 1 : 2));
        int shown = 0;
        for (Map.Entry<String, String> failure : ordered) {
            if (shown++ == 30) {
                summary.append("  ... and ").append(distinctFailures.size() - 30).append(" more\n");
                break;
            }
            summary.append("  [").append(failure.getKey()).append("] ").append(failure.getValue()).append('\n');
        }
        System.out.println(summary);
        if (Boolean.getBoolean("fuzz.all")) {
            distinctFailures.forEach((key, value) -> System.out.println("ALL [" + key + "] " + value));
        }
        assertTrue(healthy, summary::toString);
        assertEquals(0, failures, summary::toString);
    }

    // ---------------------------------------------------------------- checks

    /** What is wrong with the response, or null. */
    private static String check(Request request, Response response) {
        if (response.status() < 0) {
            return "no answer (" + response.error() + ")";
        }
        int status = response.status();
        String line = requestLine(request);
        // a request line the server cannot read names no API family: its error is in the native shape
        String path = READABLE_REQUEST_LINE.matcher(line).matches() ? request.path() : "/";
        if (status >= 500) {
            boolean notReady = status == 503 && path.equals("/readyz");
            // Vert.x answers an HTTP version it does not speak (HTTP/9.9, HTTP/2.0's preface) with an empty 501 before any
            // handler runs: a protocol-level refusal, not a server error, and no API family applies
            boolean unsupportedVersion = status == 501 && !HTTP_1.matcher(line).find();
            if (!notReady && !unsupportedVersion) {
                return "server error " + status;
            }
            return null;
        }
        if (request.method().equals("HEAD") || status == 101) {
            return null;
        }
        String type = response.headers().getOrDefault("content-type", "");
        if (status >= 400 && status < 500) {
            if (!type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
                return "4xx without a JSON content type";
            }
            JsonNode body;
            try {
                body = JSON.readTree(response.body());
            } catch (IOException e) {
                return "4xx body is not JSON";
            }
            return errorShape(family(path), body);
        }
        if (status >= 200 && status < 300 && type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            try {
                if (JSON.readTree(response.body()) == null) {
                    return "2xx JSON body is empty";
                }
            } catch (IOException e) {
                return "2xx JSON body does not parse";
            }
        }
        return null;
    }

    /** A request line Netty reads: a token method, an origin-form target within Vert.x's 4,096-byte line limit, HTTP/1.x. */
    private static final java.util.regex.Pattern READABLE_REQUEST_LINE =
            java.util.regex.Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+ /[^ \\x00-\\x20\\x7f]{0,4000} HTTP/1\\.[01]");
    private static final java.util.regex.Pattern HTTP_1 = java.util.regex.Pattern.compile(" HTTP/1\\.[01]$");

    /** The first line of the request as sent. */
    private static String requestLine(Request request) {
        String wire = new String(request.wire(), StandardCharsets.ISO_8859_1);
        int end = wire.indexOf("\r\n");
        return end < 0 ? wire : wire.substring(0, end);
    }

    private enum Family { NATIVE, A1111, OPENAI }

    /** The family as {@link ApiFamily#of} picks it (the fuzzer never escapes a family prefix). */
    private static Family family(String path) {
        if (path.startsWith("/sdapi/") || path.startsWith("/internal/")) {
            return Family.A1111;
        }
        return path.startsWith("/v1/") ? Family.OPENAI : Family.NATIVE;
    }

    private static String errorShape(Family family, JsonNode body) {
        if (body == null || !body.isObject()) {
            return family + " 4xx body is not a JSON object";
        }
        switch (family) {
            case NATIVE -> {
                JsonNode error = body.get("error");
                if (error == null || !error.isObject() || !error.path("code").isTextual() || !error.path("message").isTextual()) {
                    return "NATIVE 4xx body lacks error.code/error.message";
                }
            }
            case OPENAI -> {
                JsonNode error = body.get("error");
                if (error == null || !error.isObject() || !error.path("message").isTextual() || !error.path("type").isTextual()
                        || !error.has("code")) {
                    return "OPENAI 4xx body lacks error.message/type/code";
                }
            }
            case A1111 -> {
                if (!body.has("detail") || !body.has("error")) {
                    return "A1111 4xx body lacks detail/error";
                }
            }
            default -> throw new IllegalStateException();
        }
        return null;
    }

    private static String statusLabel(Response response) {
        return response.status() < 0 ? "no-answer" : Integer.toString(response.status());
    }

    private static String snippet(Response response) {
        if (response.status() < 0) {
            return "";
        }
        String text = response.bodyText();
        return printable(text.length() > 200 ? text.substring(0, 200) : text);
    }

    private static String printable(String text) {
        StringBuilder out = new StringBuilder();
        for (char c : text.toCharArray()) {
            if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- the raw client

    /**
     * Sends {@code wire} on a new connection and reads one response: status line, headers, then
     * the body by chunked encoding, Content-Length, or to the end of the stream. 100 Continue is
     * skipped; 101 ends the exchange after its headers.
     */
    static Response exchange(int port, byte[] wire, boolean head, int timeoutMillis) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(timeoutMillis);
            OutputStream out = socket.getOutputStream();
            String writeError = null;
            try {
                out.write(wire);
                out.flush();
            } catch (IOException e) {
                writeError = e.toString(); // the server may answer (413, 414) and close before reading all of it
            }
            InputStream in = socket.getInputStream();
            while (true) {
                String statusLine;
                try {
                    statusLine = readLine(in);
                } catch (IOException e) {
                    return new Response(-1, Map.of(), new byte[0], e + (writeError == null ? "" : "; write: " + writeError));
                }
                if (statusLine == null) {
                    return new Response(-1, Map.of(), new byte[0], "connection closed before a status line"
                            + (writeError == null ? "" : "; write: " + writeError));
                }
                String[] parts = statusLine.split(" ", 3);
                if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                    return new Response(-1, Map.of(), new byte[0], "malformed status line: " + printable(statusLine));
                }
                int status = Integer.parseInt(parts[1]);
                Map<String, String> headers = new LinkedHashMap<>();
                for (String line = readLine(in); line != null && !line.isEmpty(); line = readLine(in)) {
                    int colon = line.indexOf(':');
                    if (colon > 0) {
                        headers.merge(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim(),
                                (a, b) -> a + ", " + b);
                    }
                }
                if (status == 100) {
                    continue;
                }
                if (head || status == 101 || status == 204 || status == 304) {
                    return new Response(status, headers, new byte[0], null);
                }
                byte[] body;
                boolean chunked = headers.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT).contains("chunked");
                if (chunked) {
                    body = readChunked(in);
                } else if (headers.containsKey("content-length")) {
                    body = readExactly(in, Integer.parseInt(headers.get("content-length")));
                } else {
                    body = readToEnd(in);
                }
                return new Response(status, headers, body, null, chunked);
            }
        } catch (IOException | RuntimeException e) {
            return new Response(-1, Map.of(), new byte[0], e.toString());
        }
    }

    /** A CRLF-terminated line (a bare LF is accepted), or null at the end of the stream before any byte. */
    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (line.size() == 0) {
                    return null;
                }
                throw new EOFException("the stream ended inside a line");
            }
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
            if (line.size() > 65536) {
                throw new IOException("a line longer than 64 KiB");
            }
        }
    }

    static byte[] readChunked(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine(in);
            if (sizeLine == null) {
                throw new EOFException("the stream ended before the last chunk");
            }
            int semicolon = sizeLine.indexOf(';');
            int size = Integer.parseInt((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
            if (size == 0) {
                for (String trailer = readLine(in); trailer != null && !trailer.isEmpty(); trailer = readLine(in)) {
                    // trailers are ignored
                }
                return body.toByteArray();
            }
            body.write(readExactly(in, size));
            if (body.size() > MAX_RESPONSE_BYTES) {
                throw new IOException("a response larger than " + MAX_RESPONSE_BYTES + " bytes");
            }
            String end = readLine(in);
            if (end == null || !end.isEmpty()) {
                throw new IOException("a chunk not followed by CRLF");
            }
        }
    }

    static byte[] readExactly(InputStream in, int length) throws IOException {
        if (length > MAX_RESPONSE_BYTES) {
            throw new IOException("Content-Length " + length + " is too large to read");
        }
        byte[] bytes = in.readNBytes(length);
        if (bytes.length != length) {
            throw new EOFException("the body ended after " + bytes.length + " of " + length + " bytes");
        }
        return bytes;
    }

    static byte[] readToEnd(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            body.write(buffer, 0, n);
            if (body.size() > MAX_RESPONSE_BYTES) {
                throw new IOException("a response larger than " + MAX_RESPONSE_BYTES + " bytes");
            }
        }
        return body.toByteArray();
    }

    @Test
    void theRawClientReadsChunkedAndLengthDelimitedResponses() throws IOException {
        byte[] chunked = "4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: y\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        assertEquals("Wikipedia in \r\n\r\nchunks.", new String(readChunked(new java.io.ByteArrayInputStream(chunked)),
                StandardCharsets.ISO_8859_1));
        assertEquals("ab", new String(readExactly(new java.io.ByteArrayInputStream("abc".getBytes(StandardCharsets.ISO_8859_1)), 2),
                StandardCharsets.ISO_8859_1));
        try {
            readChunked(new java.io.ByteArrayInputStream("5\r\nab".getBytes(StandardCharsets.ISO_8859_1)));
            throw new AssertionError("a truncated chunk was accepted");
        } catch (EOFException expected) {
            // a truncated chunk is an error, not a short body
        }
    }

    // ---------------------------------------------------------------- generation

    private Request generate(Random random, int index) {
        int kind = random.nextInt(100);
        if (kind < 72) {
            return routeRequest(random, index);
        }
        if (kind < 78) {
            return badEscape(random, index);
        }
        if (kind < 82) {
            return longUri(random, index);
        }
        if (kind < 87) {
            return oddMethod(random, index);
        }
        if (kind < 89) {
            return webSocketWithoutUpgrade(random, index);
        }
        if (kind < 96) {
            return malformedRequestLine(random, index);
        }
        return oddHeaders(random, index);
    }

    private Request routeRequest(Random random, int index) {
        Route route = ROUTES.get(random.nextInt(ROUTES.size()));
        String method = random.nextInt(100) < 80 ? route.methods().get(random.nextInt(route.methods().size()))
                : METHODS.get(random.nextInt(METHODS.size()));
        String path = route.template().equals("/{static}") ? STATIC_PATHS.get(random.nextInt(STATIC_PATHS.size()))
                : route.template().replace("{id}", id(random));
        String query = query(random, route.template());
        String kind;
        String contentType;
        byte[] body;
        boolean wantsBody = method.equals("POST") || method.equals("PATCH") || method.equals("PUT")
                || (method.equals("DELETE") && random.nextInt(4) == 0) || random.nextInt(20) == 0;
        if (!wantsBody) {
            kind = "no-body";
            contentType = random.nextInt(10) == 0 ? pick(random, CONTENT_TYPES) : null;
            body = null;
        } else {
            int choice = random.nextInt(100);
            String valid = validBody(random, route.template());
            if (choice < 30) {
                kind = "valid";
                body = utf8(valid);
            } else if (choice < 65) {
                kind = "mutated";
                body = utf8(mutate(random, valid));
            } else if (choice < 78) {
                kind = "invalid-json";
                body = invalidJson(random, valid);
            } else if (choice < 86) {
                kind = "empty";
                body = new byte[0];
            } else if (choice < 93) {
                kind = "garbage";
                body = new byte[1 + random.nextInt(512)];
                random.nextBytes(body);
            } else {
                kind = "bad-utf8";
                body = badUtf8(random, valid);
            }
            int typeChoice = random.nextInt(100);
            if (route.template().equals("/api/v1/batches") && typeChoice < 50) {
                contentType = "text/plain";
            } else {
                contentType = typeChoice < 60 ? "application/json" : typeChoice < 90 ? pick(random, CONTENT_TYPES) : null;
            }
        }
        StringBuilder head = new StringBuilder();
        head.append(method).append(' ').append(path).append(query).append(" HTTP/1.1\r\n");
        head.append("Host: 127.0.0.1\r\nConnection: close\r\n");
        if (random.nextInt(10) == 0) {
            head.append("Accept: ").append(random.nextBoolean() ? "text/html" : "*/*").append("\r\n");
        }
        if (contentType != null) {
            head.append("Content-Type: ").append(contentType).append("\r\n");
        }
        byte[] payload = body == null ? new byte[0] : body;
        if (body != null) {
            int framing = random.nextInt(100);
            if (framing < 85) {
                head.append("Content-Length: ").append(payload.length).append("\r\n");
            } else if (framing < 93) {
                kind += "+chunked";
                head.append("Transfer-Encoding: chunked\r\n");
                payload = chunk(random, payload);
            } else if (framing < 96) {
                kind += "+no-length";
            } else if (framing < 98) {
                kind += "+huge-length";
                head.append("Content-Length: ").append(random.nextBoolean() ? (2 << 20) : 1L << 40).append("\r\n");
            } else {
                kind += "+bad-length";
                head.append("Content-Length: ").append(random.nextBoolean() ? "99999999999999999999999" : "-1").append("\r\n");
            }
        }
        head.append("\r\n");
        return new Request(index, method, path + query, route.template(), contentType == null ? "-" : contentType, kind,
                concat(head.toString().getBytes(StandardCharsets.UTF_8), payload));
    }

    private Request badEscape(Random random, int index) {
        String[] escapes = {"%zz", "%", "%0", "%00", "%c0%af", "%ff", "%e9", "%%", "%G1", "%ed%a0%80", "%2", "%u0041"};
        String escape = escapes[random.nextInt(escapes.length)];
        String[] prefixes = {"/api/v1/jobs/", "/api/v1/images/", "/api/v1/batches/", "/api/v1/jobs/x", "/sdapi/v1/", "/v1/",
                "/internal/", "/", "/api/v1/images?q=", "/api/v1/images?from=", "/v1/models?x=", "/sdapi/v1/options?a="};
        String prefix = prefixes[random.nextInt(prefixes.length)];
        String path = prefix + escape + (random.nextBoolean() ? "" : "/metadata");
        String method = random.nextInt(4) == 0 ? "POST" : "GET";
        String body = method.equals("POST") ? "{}" : "";
        String wire = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + (body.isEmpty() ? "" : "Content-Type: application/json\r\nContent-Length: 2\r\n") + "\r\n" + body;
        return new Request(index, method, path, templateOf(prefix) + "<bad-escape>", body.isEmpty() ? "-" : "application/json",
                "bad-escape", wire.getBytes(StandardCharsets.ISO_8859_1));
    }

    private Request longUri(Random random, int index) {
        String[] prefixes = {"/api/v1/images?q=", "/api/v1/jobs/", "/sdapi/v1/progress?x=", "/v1/models?x=", "/healthz?", "/"};
        String prefix = prefixes[random.nextInt(prefixes.length)];
        int length = 8200 + random.nextInt(8000);
        String path = prefix + letters(random, length);
        String wire = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        return new Request(index, "GET", path, templateOf(prefix) + "<long-uri>", "-", "long-uri",
                wire.getBytes(StandardCharsets.ISO_8859_1));
    }

    private Request oddMethod(Random random, int index) {
        String method = pick(random, ODD_METHODS);
        Route route = ROUTES.get(random.nextInt(ROUTES.size()));
        String path = route.template().equals("/{static}") ? "/" : route.template().replace("{id}", id(random));
        String target = method.equals("CONNECT") && random.nextBoolean() ? "127.0.0.1:80" : path;
        String wire = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        return new Request(index, method, target, target.startsWith("/") ? route.template() : "<authority>", "-", "odd-method",
                wire.getBytes(StandardCharsets.UTF_8));
    }

    private Request webSocketWithoutUpgrade(Random random, int index) {
        String[] variants = {
            "",
            "Upgrade: websocket\r\n",
            "Connection: Upgrade\r\nUpgrade: websocket\r\n",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n",
            "Upgrade: h2c\r\n",
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        };
        int variant = random.nextInt(variants.length);
        String method = variant == variants.length - 1 ? (random.nextBoolean() ? "POST" : "GET") : random.nextInt(5) == 0 ? "DELETE" : "GET";
        String extra = variants[variant];
        boolean hasBody = extra.endsWith("{}");
        String headers = hasBody ? extra.substring(0, extra.length() - 4) : extra;
        String wire = method + " /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + (headers.contains("Connection:") ? "" : "Connection: close\r\n") + headers + "\r\n" + (hasBody ? "{}" : "");
        return new Request(index, method, "/api/v1/ws", "/api/v1/ws", hasBody ? "application/json" : "-", "ws-no-upgrade#" + variant,
                wire.getBytes(StandardCharsets.ISO_8859_1));
    }

    private Request malformedRequestLine(Random random, int index) {
        String[] lines = {
            "GET /healthz",
            "GET",
            "GET /api/v1/jobs HTTP/9.9",
            "GET /api/v1/jobs HTTP/1.1 extra",
            "GET /api/v1/jobs  HTTP/1.1",
            "GET  /api/v1/models HTTP/1.1",
            "GET /api/v1/ models HTTP/1.1",
            "GET healthz HTTP/1.1",
            "GET http://127.0.0.1/api/v1/models HTTP/1.1",
            "GET /api/v1/models HTTP/1.0",
            "GET /api/v1/models?\u0000 HTTP/1.1",
            "GET /api/v1/models\tHTTP/1.1",
            "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003",
            "PRI * HTTP/2.0",
            "GET /api/v1/jobs/\u00e9 HTTP/1.1",
            "GET /sdapi/v1/progress HTTP/1.x",
            "GET /v1/models HTTP/",
            " GET /healthz HTTP/1.1",
            "GET /api/v1/jobs/" + "\u007f" + " HTTP/1.1",
            "OPTIONS * HTTP/1.1",
        };
        int variant = random.nextInt(lines.length);
        String line = lines[variant];
        if (random.nextInt(5) == 0) {
            variant = -1;
            byte[] junk = new byte[1 + random.nextInt(64)];
            random.nextBytes(junk);
            for (int i = 0; i < junk.length; i++) {
                if (junk[i] == '\r' || junk[i] == '\n') {
                    junk[i] = 'x';
                }
            }
            line = new String(junk, StandardCharsets.ISO_8859_1);
        }
        String wire = line + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        String[] words = line.split(" ");
        String target = words.length > 1 && words[1].startsWith("/") ? words[1] : "<none>";
        return new Request(index, words.length > 0 ? words[0] : "", target, "<malformed-request-line>", "-",
                variant < 0 ? "malformed-line#junk" : "malformed-line#" + variant + ":" + line,
                wire.getBytes(StandardCharsets.ISO_8859_1));
    }

    private Request oddHeaders(Random random, int index) {
        String[] variants = {
            "X-Long: " + "a".repeat(9000) + "\r\n",
            "NoColonHeader\r\n",
            "Content-Length: 2\r\nContent-Length: 3\r\n",
            "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: gzip\r\n",
            "Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n",
            "Expect: the-unexpected\r\n",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n",
            "Content-Type: application/json\r\nContent-Encoding: br\r\nContent-Length: 2\r\n",
            "Host: a\r\nHost: b\r\n",
            "X-Nul: a\u0000b\r\n",
            " Folded: x\r\n",
            "Accept-Encoding: gzip;q=\r\n",
            "Authorization: Bearer\r\n",
            "Range: bytes=99999999999-\r\n",
            "Upgrade: h2c\r\n",
        };
        int variant = random.nextInt(variants.length);
        String[] paths = {"/api/v1/generations", "/api/v1/models", "/sdapi/v1/txt2img", "/v1/images/generations", "/api/v1/batches",
                "/sdapi/v1/options", "/healthz"};
        String path = paths[random.nextInt(paths.length)];
        String headers = variants[variant];
        boolean hasBody = headers.contains("Content-Length: 2") || headers.contains("chunked");
        String method = hasBody || random.nextBoolean() ? "POST" : "GET";
        String body = headers.contains("chunked") ? "2\r\n{}\r\n0\r\n\r\n" : hasBody ? "{}" : "";
        String wire = method + " " + path + " HTTP/1.1\r\n" + (headers.startsWith("Host:") ? "" : "Host: 127.0.0.1\r\n")
                + "Connection: close\r\n" + headers + "\r\n" + body;
        return new Request(index, method, path, path + "<odd-header#" + variant + ">", headers.contains("application/json")
                ? "application/json" : "-", "odd-header#" + variant, wire.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static String templateOf(String prefix) {
        int query = prefix.indexOf('?');
        String path = query < 0 ? prefix : prefix.substring(0, query + 1);
        return path.replaceAll("/jobs/x$", "/jobs/");
    }

    /** A path id: one the server gave out, a well-formed unknown one, or junk. */
    private String id(Random random) {
        int choice = random.nextInt(100);
        if (choice < 40 && !knownIds.isEmpty()) {
            int pick = random.nextInt(knownIds.size());
            return knownIds.stream().skip(pick).findFirst().orElseThrow();
        }
        if (choice < 70) {
            String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
            StringBuilder id = new StringBuilder();
            for (int i = 0; i < 20; i++) {
                id.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            return id.toString();
        }
        String[] junk = {"x", "..", "%2e%2e", "a%2Fb", "%E2%98%83", "null", "-1", "9999999999999999999999", "ABCDEFGHIJKLMNOPQRST",
            "abcdefghijklmnopqrs1", "'%20OR%201=1", "%22", "aaaaaaaaaaaaaaaaaaaaa", "%20", "@", "~", "a.png", "*"};
        return random.nextInt(6) == 0 ? letters(random, 200 + random.nextInt(600)) : junk[random.nextInt(junk.length)];
    }

    private static String query(Random random, String template) {
        List<String> names;
        switch (template) {
            case "/api/v1/images" -> names = List.of("q", "favorite", "model", "sampler", "from", "to", "cursor", "limit", "sort", "width",
                    "height", "board");
            case "/api/v1/batches/{id}" -> names = List.of("cursor", "limit");
            default -> names = List.of("x", "limit", "cursor");
        }
        boolean listing = template.equals("/api/v1/images") || template.equals("/api/v1/batches/{id}");
        if (!listing && random.nextInt(10) != 0) {
            return "";
        }
        if (listing && random.nextInt(5) == 0) {
            return "";
        }
        StringBuilder query = new StringBuilder("?");
        int count = 1 + random.nextInt(3);
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                query.append('&');
            }
            String name = names.get(random.nextInt(names.size()));
            query.append(name).append('=').append(queryValue(random, name));
        }
        return query.toString();
    }

    private static String queryValue(Random random, String name) {
        String[] numbers = {"0", "1", "-1", "20", "1000", "1001", "99999999999999999999", "9223372036854775807", "9223372036854775808",
            "-9223372036854775809", "1e309", "NaN", "1.5", "", "abc", "%20", "2147483648", "0x10", "+5", "00000000001"};
        String[] texts = {"cat", "a%20OR%20%22", "%00", "%22%22", "%22", "'", "*", "a*", "NEAR(a", "a%20AND", "OR", "col:val", "%5E",
            "%E2%98%83", "a%20NOT%20b", "(", ")", "%22unterminated", "a%20OR", "-", "%2B", "%5C", "%25", "%3B%20DROP%20TABLE%20images",
            "{x}", "tiny", "euler_a", "", "%0A", "a%00b", "NEAR(a%20b,%20-1)", "^a", "a:b:c", "%22a%22%20%22b"};
        String[] times = {"2026-12-01T00:00:00Z", "2026-12-01", "0", "-1", "99999999999999999999", "9223372036854775807",
            "9223372036854775808", "1e309", "yesterday", "", "2026-13-45T99:99:99Z", "+999999999-12-31T23:59:59Z",
            "-999999999-01-01T00:00:00Z", "1764547200000", "1970-01-01T00:00:00Z", "%00"};
        return switch (name) {
            case "limit", "width", "height" -> numbers[random.nextInt(numbers.length)];
            case "sort" -> new String[]{"newest", "oldest", "", "NEWEST", "random", "%00"}[random.nextInt(6)];
            case "board" -> new String[]{"none", "aaaaaaaaaaaaaaaaaaaa", "", "null", "..", "%00"}[random.nextInt(6)];
            case "cursor" -> random.nextBoolean() ? numbers[random.nextInt(numbers.length)]
                    : new String[]{"abc", "%00", "eyJ4IjoxfQ", "!!!", "MTIzNDU2", "-1:abc", "99999999999999999999:zz", ""}[random.nextInt(8)];
            case "from", "to" -> times[random.nextInt(times.length)];
            case "favorite" -> new String[]{"true", "false", "1", "0", "yes", "maybe", "", "TRUE", "%00"}[random.nextInt(9)];
            default -> random.nextInt(8) == 0 ? letters(random, 100 + random.nextInt(400)) : texts[random.nextInt(texts.length)];
        };
    }

    /** A valid request body for the route (a JSON object; the batch route takes a prompt file). */
    private String validBody(Random random, String template) {
        int seed = random.nextInt(1000);
        int steps = 1 + random.nextInt(3);
        String prompt = pick(random, List.of("a red fox", "a (cat:1.2) on a [mat]", "", "a lighthouse at dusk", "caf\u00e9 \u2615"));
        return switch (template) {
            case "/api/v1/generations" -> random.nextInt(4) == 0
                    ? "{\"prompt\":\"" + prompt + "\",\"model\":\"wide\",\"steps\":" + steps + ",\"width\":128,\"height\":64,\"n\":2}"
                    : "{\"prompt\":\"" + prompt + "\",\"negative_prompt\":\"blurry\",\"steps\":" + steps
                            + ",\"width\":64,\"height\":64,\"seed\":" + seed + ",\"sampler\":\"" + pick(random, List.of("euler", "ddim", "euler_a"))
                            + "\",\"guidance_scale\":7.5,\"n\":1,\"clip_skip\":1}";
            case "/api/v1/batches" -> pick(random, List.of(
                    "a cat\n{\"prompt\":\"a dog\",\"steps\":" + steps + "}\n",
                    "--prompt \"a fox\" --steps " + steps + " --width 64 --height 64 --sampler_name \"Euler a\"\n",
                    "{\"prompt\":\"x\",\"steps\":1}\n\n--prompt \"y\" --negative_prompt \"z\" --steps 1 --seed " + seed + "\n"));
            case "/api/v1/images/{id}" -> random.nextBoolean() ? "{\"favorite\":" + random.nextBoolean() + "}"
                    : "{\"board\":" + (random.nextBoolean() ? "null" : "\"" + id(random) + "\"") + "}";
            case "/api/v1/images/bulk" -> "{\"ids\":[\"" + id(random) + "\",\"" + id(random) + "\"],\"action\":\""
                    + pick(random, List.of("delete", "favorite", "unfavorite", "move")) + "\""
                    + (random.nextBoolean() ? ",\"board\":" + (random.nextBoolean() ? "null" : "\"" + id(random) + "\"") : "") + "}";
            case "/api/v1/images/zip" -> "{\"ids\":[\"" + id(random) + "\"]}";
            case "/api/v1/boards", "/api/v1/boards/{id}" -> "{\"name\":\"" + prompt + " " + seed + "\"}";
            case "/sdapi/v1/txt2img" -> "{\"prompt\":\"" + prompt + "\",\"negative_prompt\":\"\",\"steps\":" + steps
                    + ",\"width\":64,\"height\":64,\"seed\":" + seed + ",\"sampler_name\":\"Euler a\",\"cfg_scale\":7,\"batch_size\":1,"
                    + "\"n_iter\":1,\"scheduler\":\"" + pick(random, List.of("automatic", "karras")) + "\""
                    + (random.nextInt(3) == 0 ? ",\"enable_hr\":true,\"hr_scale\":1.5,\"hr_upscaler\":\""
                            + pick(random, List.of("Latent", "Lanczos", "Latent (nearest)")) + "\",\"hr_second_pass_steps\":1,"
                            + "\"denoising_strength\":0.6" : "") + "}";
            case "/sdapi/v1/img2img" -> "{\"prompt\":\"" + prompt + "\",\"steps\":" + steps + ",\"width\":64,\"height\":64,\"seed\":" + seed
                    + ",\"init_images\":[\"" + pngBase64 + "\"],\"denoising_strength\":0.5"
                    + (random.nextInt(3) == 0 ? ",\"mask\":\"" + pngBase64 + "\",\"mask_blur\":2,\"inpainting_fill\":" + random.nextInt(4)
                            + ",\"inpaint_full_res\":" + random.nextBoolean() : "") + "}";
            case "/sdapi/v1/extra-single-image" -> "{\"image\":\"" + pngBase64 + "\",\"upscaler_1\":\""
                    + pick(random, List.of("Nearest", "Lanczos", "None")) + "\",\"upscaling_resize\":2}";
            case "/sdapi/v1/options" -> pick(random, List.of("{\"CLIP_stop_at_last_layers\":" + (1 + random.nextInt(2)) + "}",
                    "{\"sd_model_checkpoint\":\"tiny [0123456789]\"}", "{\"sd_model_checkpoint\":\"tiny\"}",
                    "{\"samples_format\":\"png\"}"));
            case "/sdapi/v1/png-info" -> "{\"image\":\"" + (random.nextBoolean() ? "data:image/png;base64," : "") + pngBase64 + "\"}";
            case "/v1/images/generations" -> "{\"prompt\":\"" + prompt + "\",\"size\":\"64x64\",\"n\":1,\"steps\":" + steps
                    + ",\"response_format\":\"" + pick(random, List.of("b64_json", "url")) + "\",\"model\":\"tiny\"}";
            default -> "{}";
        };
    }

    /** {@code valid} with one field changed, removed or added (a prompt file gets one line mangled). */
    private static String mutate(Random random, String valid) {
        if (!valid.startsWith("{")) {
            return valid + pick(random, List.of("--steps 1e309\n", "--steps -1\n", "--width abc\n", "{\"prompt\":1}\n", "--prompt\n",
                    "{\"prompt\":\"a\",\"steps\":9223372036854775808}\n", "--prompt \"unterminated\n", "\u0000\n", "[[[[[[\n",
                    "--seed 99999999999999999999999\n", "--sampler_name \"\" --cfg_scale NaN\n"));
        }
        ObjectNode node;
        try {
            node = (ObjectNode) JSON.readTree(valid);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        List<String> fields = new ArrayList<>();
        node.fieldNames().forEachRemaining(fields::add);
        String field = fields.isEmpty() || random.nextInt(8) == 0
                ? pick(random, List.of("unknown", "prompt", "steps", "n_iter", "batch_size", "size", "override_settings", "init_image",
                        "strength", "eta", "guidance_rescale", "enable_hr", "sampler_index", "styles", "image", "favorite"))
                : fields.get(random.nextInt(fields.size()));
        int choice = random.nextInt(22);
        switch (choice) {
            case 0 -> node.remove(field);
            case 1 -> node.put(field, "abc");
            case 2 -> node.put(field, 42);
            case 3 -> node.put(field, true);
            case 4 -> node.putObject(field).put("a", 1);
            case 5 -> node.putArray(field).add(1).add("x");
            case 6 -> node.put(field, -1);
            case 7 -> node.put(field, 0);
            case 8 -> node.put(field, HUGE_DOUBLE);
            case 9 -> node.put(field, HUGE_LONG);
            case 10 -> node.put(field, "");
            case 11 -> node.put(field, letters(random, 2000 + random.nextInt(30000)));
            case 12 -> node.put(field, NAN);
            case 13 -> node.put(field, DEEP);
            case 14 -> node.putNull(field);
            case 15 -> node.put(field, 1.5);
            case 16 -> node.put(field, "\u0000\ud800\"'\\");
            case 17 -> node.put(field, -9.99e307);
            case 18 -> node.put(field, 2147483648L);
            case 19 -> node.put(field, "99999x99999");
            case 20 -> node.put(field, "data:image/png;base64,!!!");
            default -> node.put(field, 1e-320);
        }
        String text = node.toString();
        int depth = 200 + random.nextInt(4000);
        return text.replace("\"" + HUGE_DOUBLE + "\"", pick(random, List.of("1e309", "-1e309", "1E400", "123456789e999999999")))
                .replace("\"" + HUGE_LONG + "\"", pick(random, List.of("9223372036854775808", "-9223372036854775809",
                        "99999999999999999999999999999999999999", "18446744073709551616")))
                .replace("\"" + NAN + "\"", pick(random, List.of("NaN", "Infinity", "-Infinity", "nan")))
                .replace("\"" + DEEP + "\"", "[".repeat(depth) + "]".repeat(depth));
    }

    private static byte[] invalidJson(Random random, String valid) {
        int choice = random.nextInt(12);
        String text = switch (choice) {
            case 0 -> "{";
            case 1 -> "{\"prompt\":}";
            case 2 -> valid + " trailing";
            case 3 -> valid.replace('"', '\'');
            case 4 -> valid.endsWith("}") ? valid.substring(0, valid.length() - 1) + ",}" : valid + ",";
            case 5 -> valid.substring(0, random.nextInt(Math.max(1, valid.length())));
            case 6 -> "\ufeff" + valid;
            case 7 -> "[]";
            case 8 -> pick(random, List.of("\"x\"", "42", "null", "true", "{}", "[{}]", "-0", "1e309"));
            case 9 -> "{\"a\":1,\"a\":2}";
            case 10 -> "{".repeat(2000 + random.nextInt(3000)) ;
            default -> valid + valid;
        };
        if (choice == 11 && random.nextBoolean()) {
            return valid.getBytes(StandardCharsets.UTF_16);
        }
        return utf8(text);
    }

    private static byte[] badUtf8(Random random, String valid) {
        byte[] bytes = utf8(valid);
        int quote = valid.indexOf("\":\"");
        int at = quote < 0 ? random.nextInt(bytes.length + 1) : quote + 3;
        byte[][] bad = {{(byte) 0xc0, (byte) 0xaf}, {(byte) 0xff}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, {(byte) 0xe2, (byte) 0x82},
            {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}};
        byte[] insert = bad[random.nextInt(bad.length)];
        byte[] out = new byte[bytes.length + insert.length];
        System.arraycopy(bytes, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(bytes, at, out, at + insert.length, bytes.length - at);
        return out;
    }

    private static byte[] chunk(Random random, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = 0;
        while (at < payload.length) {
            int size = Math.min(payload.length - at, 1 + random.nextInt(64));
            out.writeBytes((Integer.toHexString(size) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(payload, at, size);
            out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
            at += size;
        }
        out.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    private static String letters(Random random, int length) {
        char[] text = new char[length];
        for (int i = 0; i < length; i++) {
            text[i] = (char) ('a' + random.nextInt(26));
        }
        return new String(text);
    }

    private static <T> T pick(Random random, List<T> items) {
        return items.get(random.nextInt(items.size()));
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static byte[] png(int width, int height) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, (x * 32) << 16 | (y * 32) << 8);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }
}
