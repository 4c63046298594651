package daguerre.server.http;

import daguerre.server.config.ConnectionLimits;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.impl.ConnectionBase;
import io.netty.channel.ChannelPipeline;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Enforces {@link ConnectionLimits} together with Vert.x's idle timeout. Vert.x makes a
 * connection known to the application only when its first request head is complete; until then
 * its own idle timeout (set to the same value) closes a connection that sends nothing. From the
 * first request on, this guard counts the connection in total and per client address (closing one
 * over a cap before its request is handled) and, every {@link #sweepMillis}, closes it when it is
 * idle or slow: no complete request head within the idle timeout of its previous answer (headers
 * sent byte by byte are no head), or a body arriving slower than the minimum rate once the idle
 * timeout's grace has passed. A connection whose request the service is working on (its body has
 * arrived and its answer has not ended: a synchronous generation, an event stream, a WebSocket)
 * is never timed out.
 *
 * <p>Not covered: a first request whose head trickles in faster than one byte per idle timeout,
 * which only Vert.x's head size limits bound (4 KiB request line, 8 KiB headers).
 */
final class ConnectionGuard {

    /** One open connection: when it last became idle, and the request it is on, if any. */
    private static final class Tracked {
        final String client;
        volatile long idleSinceNanos;
        volatile HttpServerRequest request;
        volatile long requestStartNanos;
        /** Whether Vert.x's idle handler was taken off this connection's pipeline (this guard times it out now). */
        boolean ownsIdleTimeout;
        /** Whether the connection asked to become a WebSocket: then it lives until either side closes it. */
        volatile boolean webSocket;

        Tracked(String client, long now) {
            this.client = client;
            this.idleSinceNanos = now;
        }
    }

    /** The name Vert.x gives its IdleStateHandler in an HTTP/1 connection's Netty pipeline. */
    private static final String VERTX_IDLE_HANDLER = "idle";

    private final ConnectionLimits limits;
    private final Map<HttpConnection, Tracked> open = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    ConnectionGuard(ConnectionLimits limits) {
        this.limits = limits;
    }

    /** Starts the periodic sweep on {@code vertx}. */
    void start(Vertx vertx) {
        vertx.setPeriodic(sweepMillis(), id -> sweep(System.nanoTime()));
    }

    /** How often idle and slow connections are looked for: a quarter of the idle timeout, at most a second. */
    long sweepMillis() {
        return Math.max(10, Math.min(1000, limits.idleTimeoutMillis() / 4));
    }

    /** A new connection: counted, or closed at once when it is over a cap. */
    void onConnection(HttpConnection connection) {
        String client = connection.remoteAddress() == null ? "?" : connection.remoteAddress().hostAddress();
        Tracked tracked = new Tracked(client, System.nanoTime());
        AtomicInteger fromClient = perClient.computeIfAbsent(client, c -> new AtomicInteger());
        int all = total.incrementAndGet();
        int mine = fromClient.incrementAndGet();
        open.put(connection, tracked);
        connection.closeHandler(closed -> {
            if (open.remove(connection) != null) {
                total.decrementAndGet();
                if (perClient.get(client).decrementAndGet() == 0) {
                    perClient.computeIfPresent(client, (c, count) -> count.get() == 0 ? null : count);
                }
            }
        });
        if (all > limits.maxConnections() || mine > limits.maxConnectionsPerClient()) {
            open.remove(connection);
            total.decrementAndGet();
            fromClient.decrementAndGet();
            connection.close();
        }
    }

    /**
     * A request head arrived on its connection; returns false when the connection was closed for
     * being over a cap (the request must not be handled). On a connection's first request, this
     * guard takes over its idle timeout from Vert.x's, which would also close a connection whose
     * request the service is still working on.
     */
    boolean onRequest(HttpServerRequest request) {
        Tracked tracked = open.get(request.connection());
        if (tracked == null) {
            return false;
        }
        if (!tracked.ownsIdleTimeout && request.connection() instanceof ConnectionBase base) {
            ChannelPipeline pipeline = base.channel().pipeline();
            if (pipeline.get(VERTX_IDLE_HANDLER) != null) {
                pipeline.remove(VERTX_IDLE_HANDLER);
            }
            tracked.ownsIdleTimeout = true;
        }
        tracked.requestStartNanos = System.nanoTime();
        tracked.request = request;
        tracked.webSocket = "websocket".equalsIgnoreCase(request.getHeader("Upgrade"));
        return true;
    }

    /** Closes the connections that are idle past the timeout or whose body is too slow, as of {@code now}. */
    void sweep(long now) {
        long idleNanos = limits.idleTimeoutMillis() * 1_000_000L;
        open.forEach((connection, tracked) -> {
            if (tracked.webSocket) {
                return;
            }
            HttpServerRequest request = tracked.request;
            if (request != null && (request.response().ended() || request.response().closed())) {
                tracked.request = null;
                tracked.idleSinceNanos = now;
                request = null;
            }
            boolean close;
            if (request == null) {
                close = now - tracked.idleSinceNanos > idleNanos;
            } else if (!request.isEnded()) {
                double beyondGrace = (now - tracked.requestStartNanos - idleNanos) / 1e9;
                close = beyondGrace > 0 && request.bytesRead() < beyondGrace * limits.minBodyBytesPerSecond();
            } else {
                close = false; // the service is working on it
            }
            if (close) {
                connection.close();
            }
        });
    }
}
