package daguerre.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.server.jobs.RequestException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/** Small helpers shared by the route classes: JSON in and out, times, query parameters. */
final class Http {

    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Http() {}

    /** The request body as JSON; 400 invalid_json when it is empty or malformed. */
    static JsonNode body(RoutingContext ctx) {
        String text = bodyText(ctx);
        if (text == null || text.isBlank()) {
            throw new RequestException(400, "invalid_json", "the request body must be JSON", null);
        }
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new RequestException(400, "invalid_json", "the request body is not valid JSON: " + e.getOriginalMessage(), null);
        }
    }

    /**
     * The request body as text in the charset its {@code Content-Type} names (UTF-8 when it names
     * none), or null without a body; 415 unsupported_charset for a charset this JVM does not know.
     */
    static String bodyText(RoutingContext ctx) {
        if (ctx.body() == null || ctx.body().buffer() == null) {
            return null;
        }
        return ctx.body().buffer().toString(charset(ctx.request().getHeader("Content-Type")));
    }

    /** The {@code charset} parameter of a {@code Content-Type} header value; UTF-8 when absent. */
    static Charset charset(String contentType) {
        if (contentType == null) {
            return StandardCharsets.UTF_8;
        }
        for (String parameter : contentType.split(";")) {
            int equals = parameter.indexOf('=');
            if (equals > 0 && parameter.substring(0, equals).strip().equalsIgnoreCase("charset")) {
                String name = parameter.substring(equals + 1).strip().replace("\"", "");
                try {
                    return Charset.forName(name);
                } catch (IllegalArgumentException e) {   // an illegal or unsupported charset name
                    throw new RequestException(415, "unsupported_charset", "charset " + ServiceLog.printable(name)
                            + " is not supported; send the body as UTF-8 (Content-Type: application/json; charset=utf-8)", null);
                }
            }
        }
        return StandardCharsets.UTF_8;
    }

    /** Sends {@code value} as JSON with {@code status}. */
    static void send(RoutingContext ctx, int status, Object value) {
        send(ctx.response(), status, value);
    }

    /** Sends {@code value} as JSON with {@code status} on a response without routing (requests refused before the router). */
    static void send(HttpServerResponse response, int status, Object value) {
        String text;
        try {
            text = JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        if (response.ended() || response.closed()) {
            return; // a synchronous client that went away gets nothing
        }
        response.setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8").end(text);
    }

    /** Whether every {@code %} in {@code uri} starts an escape of two hex digits (RFC 3986, 2.1), as the router's decoding needs. */
    static boolean percentEscapesValid(String uri) {
        for (int i = uri.indexOf('%'); i >= 0; i = uri.indexOf('%', i + 1)) {
            if (i + 2 >= uri.length() || Character.digit(uri.charAt(i + 1), 16) < 0 || Character.digit(uri.charAt(i + 2), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs {@code action} on a worker thread if the client closes the connection before the
     * response to {@code ctx} has been sent (synchronous generation routes cancel their jobs).
     */
    static void onClientGone(RoutingContext ctx, Runnable action) {
        ctx.response().closeHandler(closed -> {
            if (!ctx.response().ended()) {
                ctx.vertx().executeBlocking(() -> {
                    action.run();
                    return null;
                }, false);
            }
        });
    }

    /** An epoch-millisecond time as ISO-8601 UTC, or null. */
    static String time(Long epochMillis) {
        return epochMillis == null ? null : Instant.ofEpochMilli(epochMillis).toString();
    }

    /**
     * The absolute base URL of the service: {@code publicUrl} (from {@code --public-url}) when set,
     * else the address this connection reached ({@code http://ip:port}). Never the request's
     * {@code Host} header, which the client chooses.
     */
    static String baseUrl(RoutingContext ctx, String publicUrl) {
        if (publicUrl != null) {
            return publicUrl;
        }
        io.vertx.core.net.SocketAddress local = ctx.request().localAddress();
        String host = local.hostAddress().contains(":") ? "[" + local.hostAddress() + "]" : local.hostAddress();
        return ctx.request().scheme() + "://" + host + ":" + local.port();
    }
}
