package daguerre.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.server.jobs.RequestException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;

/** Small helpers shared by the route classes: JSON in and out, times, query parameters. */
final class Http {

    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Http() {}

    /** The request body as JSON; 400 invalid_json when it is empty or malformed. */
    static JsonNode body(RoutingContext ctx) {
        String text = ctx.body() == null ? null : ctx.body().asString();
        if (text == null || text.isBlank()) {
            throw new RequestException(400, "invalid_json", "the request body must be JSON", null);
        }
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new RequestException(400, "invalid_json", "the request body is not valid JSON: " + e.getOriginalMessage(), null);
        }
    }

    /** Sends {@code value} as JSON with {@code status}. */
    static void send(RoutingContext ctx, int status, Object value) {
        String text;
        try {
            text = JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        HttpServerResponse response = ctx.response();
        if (response.ended() || response.closed()) {
            return; // a synchronous client that went away gets nothing
        }
        response.setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8").end(text);
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
