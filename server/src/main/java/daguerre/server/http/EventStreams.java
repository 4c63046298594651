package daguerre.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.RequestException;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Live job events: Server-Sent Events for one job at {@code /api/v1/jobs/{id}/events} and a
 * WebSocket at {@code /api/v1/ws} for all jobs. Both relay this node's events address on the event bus
 * (in a cluster, where the node copies every worker's events); neither blocks the event loop.
 */
final class EventStreams {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long HEARTBEAT_MILLIS = 15_000;

    private final Services services;

    EventStreams(Services services) {
        this.services = services;
    }

    /** Mounts the WebSocket route; it must come before any body handler, which would consume the upgrade request. */
    void mountWebSocket(Router router) {
        router.get("/api/v1/ws").handler(this::webSocket);
    }

    void mount(Router router) {
        router.get("/api/v1/jobs/:id/events").handler(this::sse);
    }

    /**
     * Streams one job's events. The stream opens with the job's current state (a {@code queued},
     * {@code progress} or final event), then relays events until a final one, and ends.
     */
    private void sse(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            ctx.fail(RequestException.notFound("job " + id));
            return;
        }
        HttpServerResponse response = ctx.response();
        List<JsonNode> early = new ArrayList<>();
        boolean[] snapshotSent = {false};
        MessageConsumer<String> consumer = services.vertx().eventBus().localConsumer(services.eventsAddress(), message -> {
            JsonNode envelope = parse(message.body());
            if (!id.equals(envelope.path("job_id").asText())) {
                return;
            }
            if (snapshotSent[0]) {
                writeSse(response, envelope);
            } else {
                early.add(envelope);
            }
        });
        consumer.completion().compose(ready -> services.vertx().executeBlocking(() -> {
                    services.queue().watch(id);
                    return services.queue().find(id).map(this::snapshot);   // off the event loop: a cluster's queue reads PostgreSQL
                }))
                .onFailure(ctx::fail)
                .onSuccess(found -> {
                    if (found.isEmpty()) {
                        consumer.unregister();
                        ctx.fail(RequestException.notFound("job " + id));
                        return;
                    }
                    response.setChunked(true).putHeader("Content-Type", "text/event-stream; charset=utf-8")
                            .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no")
                            .putHeader("Content-Encoding", "identity"); // compression would hold events back
                    long heartbeat = services.vertx().setPeriodic(HEARTBEAT_MILLIS, timer -> {
                        if (response.ended() || response.closed()) {   // also a client gone before the close handler was set
                            stop(consumer, timer);
                        } else {
                            response.write(": keep-alive\n\n");
                        }
                    });
                    response.closeHandler(v -> stop(consumer, heartbeat));
                    response.endHandler(v -> stop(consumer, heartbeat));
                    writeSse(response, found.get());
                    snapshotSent[0] = true;
                    for (JsonNode envelope : early) {
                        writeSse(response, envelope);
                    }
                    early.clear();
                });
    }

    /** Ends a stream's relaying: no more events, no more heartbeats. */
    private void stop(MessageConsumer<String> consumer, long heartbeat) {
        consumer.unregister();
        services.vertx().cancelTimer(heartbeat);
    }

    /** The job's current state as an event envelope (in a cluster with the {@code worker} that runs or ran it). */
    private ObjectNode snapshot(JobRecord job) {
        ObjectNode envelope = JSON.createObjectNode().put("job_id", job.id());
        JsonNode worker = services.queue().details(job).get("worker");
        if (worker != null && !worker.isNull()) {
            envelope.set("worker", worker);
        }
        ObjectNode data = JSON.createObjectNode();
        switch (job.state()) {
            case QUEUED -> {
                envelope.put("event", "queued");
                data.put("position", services.queue().position(job.id()));
                Optional.ofNullable(services.queue().etaMs(job.id())).ifPresent(eta -> data.put("eta_ms", eta));
            }
            case RUNNING -> {
                envelope.put("event", "progress");
                data.put("step", job.step()).put("total", job.total());
                Optional.ofNullable(services.queue().etaMs(job.id())).ifPresent(eta -> data.put("eta_ms", eta));
            }
            case SUCCEEDED -> {
                envelope.put("event", "succeeded");
                data.set("images", JSON.valueToTree(job.imageIds()));
            }
            case FAILED -> {
                envelope.put("event", "failed");
                data.putObject("error").put("code", job.errorCode()).put("message", job.errorMessage());
            }
            case CANCELLED -> envelope.put("event", "cancelled");
            default -> throw new IllegalStateException();
        }
        envelope.set("data", data);
        return envelope;
    }

    /**
     * Writes {@code event: NAME} and {@code data: {job_id, ...}} (in a cluster also the envelope's
     * {@code worker}); ends the stream after a final event.
     */
    static void writeSse(HttpServerResponse response, JsonNode envelope) {
        if (response.ended() || response.closed()) {
            return;
        }
        String event = envelope.path("event").asText();
        ObjectNode data = JSON.createObjectNode().put("job_id", envelope.path("job_id").asText());
        if (envelope.hasNonNull("worker")) {
            data.put("worker", envelope.path("worker").asText());
        }
        envelope.path("data").fields().forEachRemaining(field -> data.set(field.getKey(), field.getValue()));
        response.write("event: " + event + "\ndata: " + data + "\n\n");
        if (isFinal(event)) {
            response.end();
        }
    }

    private static boolean isFinal(String event) {
        return event.equals(JobState.SUCCEEDED.wireName()) || event.equals(JobState.FAILED.wireName())
                || event.equals(JobState.CANCELLED.wireName());
    }

    /**
     * Relays every job's events as JSON text frames {@code {job_id, event, data}}, after a first
     * frame {@code {"event":"subscribed"}} that tells the client no later event will be missed.
     */
    private void webSocket(RoutingContext ctx) {
        relayToWebSocket(ctx, frames -> services.vertx().eventBus().localConsumer(services.eventsAddress(), frames));
    }

    /**
     * Opens the WebSocket of {@code ctx} and writes every message {@code subscribe} delivers to it, after
     * {@code {"event":"subscribed"}} once the subscription holds; a bad handshake is a 400 in the native shape.
     */
    static void relayToWebSocket(RoutingContext ctx,
                                 Function<Handler<Message<String>>, MessageConsumer<String>> subscribe) {
        String problem = webSocketHandshakeProblem(ctx.request());
        if (problem != null) {   // checked here: Vert.x would answer a bad handshake itself, in plain text
            ctx.fail(new RequestException(400, "websocket_required", "/api/v1/ws is a WebSocket (RFC 6455): " + problem, null));
            return;
        }
        // a failed handshake (bad version or key) is the client's error: a 400, never a logged stack trace
        ctx.request().toWebSocket().onFailure(e -> ctx.fail(new RequestException(400, "websocket_handshake_failed",
                "the WebSocket handshake failed: " + ServiceLog.printable(String.valueOf(e.getMessage())), null))).onSuccess(socket -> {
            MessageConsumer<String> consumer = subscribe.apply(message -> {
                if (!socket.isClosed()) {
                    socket.writeTextMessage(message.body());
                }
            });
            socket.closeHandler(v -> consumer.unregister());
            consumer.completion().onSuccess(v -> {
                if (!socket.isClosed()) {
                    socket.writeTextMessage(JSON.createObjectNode().put("event", "subscribed").toString());
                }
            });
        });
    }

    /** What a request lacks to open a version-13 WebSocket, or null when it is a complete handshake. */
    private static String webSocketHandshakeProblem(HttpServerRequest request) {
        if (!"websocket".equalsIgnoreCase(request.getHeader("Upgrade"))) {
            return "send Upgrade: websocket";
        }
        String connection = request.getHeader("Connection");
        if (connection == null || Arrays.stream(connection.split(",")).noneMatch(t -> t.strip().equalsIgnoreCase("upgrade"))) {
            return "send Connection: Upgrade";
        }
        if (request.getHeader("Sec-WebSocket-Key") == null || request.getHeader("Sec-WebSocket-Key").isBlank()) {
            return "send a Sec-WebSocket-Key";
        }
        if (!"13".equals(request.getHeader("Sec-WebSocket-Version"))) {
            return "send Sec-WebSocket-Version: 13 (the only version served)";
        }
        return null;
    }

    private static JsonNode parse(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("malformed job event: " + text, e);
        }
    }
}
