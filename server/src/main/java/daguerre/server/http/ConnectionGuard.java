package daguerre.server.http;

import daguerre.server.config.ConnectionLimits;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.impl.ConnectionBase;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.util.AttributeKey;
import io.vertx.core.http.HttpServer;
import io.vertx.core.internal.http.HttpServerInternal;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
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
 * <p>Before its first request head is complete, a connection is invisible to the application; the
 * guard reads the server's accepted channels ({@link #watchAccepted}, through Vert.x's internal
 * {@code NetServerImpl}) and, at each sweep, closes those that have not completed a first head
 * within the idle timeout of being first seen (headers trickled in byte by byte) and counts them
 * against the caps, newest closed first.
 */
final class ConnectionGuard {

    /** Set on a channel once its first request head has arrived (it is then tracked in {@link #open}). */
    private static final AttributeKey<Boolean> FIRST_REQUEST = AttributeKey.valueOf("daguerre.first_request");
    /** When the sweep first saw a channel that had no request yet. */
    private static final AttributeKey<Long> FIRST_SEEN = AttributeKey.valueOf("daguerre.first_seen");

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
    /** Every channel the HTTP server accepted and has not closed; null until {@link #watchAccepted}. */
    private volatile ChannelGroup accepted;

    ConnectionGuard(ConnectionLimits limits) {
        this.limits = limits;
    }

    /** Starts the periodic sweep on {@code vertx}. */
    void start(Vertx vertx) {
        vertx.setPeriodic(sweepMillis(), id -> sweep(System.nanoTime()));
    }

    /**
     * Watches the channels {@code server} accepts (call after it listens), so that connections
     * still sending their first head are timed out and counted. Throws when this Vert.x keeps them
     * elsewhere: the guard would otherwise silently miss them.
     */
    void watchAccepted(HttpServer server) {
        try {
            Object tcp = server instanceof HttpServerInternal internal ? tcpServer(internal) : null;
            Field group = tcp == null ? null : tcp.getClass().getDeclaredField("channelGroup");
            if (group == null) {
                throw new IllegalStateException("not a Vert.x TCP HTTP server: " + server.getClass().getName());
            }
            group.setAccessible(true);
            accepted = (ChannelGroup) group.get(tcp);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot watch the accepted connections of this Vert.x version (" + e
                    + "): connections sending a first request slowly would not time out", e);
        }
    }

    private static Object tcpServer(HttpServerInternal server) throws ReflectiveOperationException {
        HttpServerInternal unwrapped = server.unwrap();
        return unwrapped.getClass().getMethod("tcpServer").invoke(unwrapped);
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
        if (request.connection() instanceof ConnectionBase base) {
            base.channel().attr(FIRST_REQUEST).set(Boolean.TRUE);
        }
        tracked.requestStartNanos = System.nanoTime();
        tracked.request = request;
        tracked.webSocket = "websocket".equalsIgnoreCase(request.getHeader("Upgrade"));
        return true;
    }

    /** Closes the connections that are idle past the timeout or whose body is too slow, as of {@code now}. */
    void sweep(long now) {
        long idleNanos = limits.idleTimeoutMillis() * 1_000_000L;
        sweepPending(now, idleNanos);
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

    /**
     * The connections without a first request head: closed when first seen more than the idle
     * timeout ago, or when, counted with the tracked ones, they are over a cap (those seen last go
     * first; among those first seen in the same sweep, any).
     */
    private void sweepPending(long now, long idleNanos) {
        ChannelGroup channels = accepted;
        if (channels == null) {
            return;
        }
        List<Channel> pending = new ArrayList<>();
        for (Channel channel : channels) {
            if (!channel.isOpen() || channel.attr(FIRST_REQUEST).get() != null) {
                continue;
            }
            Long seen = channel.attr(FIRST_SEEN).setIfAbsent(now);
            if (seen != null && now - seen > idleNanos) {
                channel.close();
            } else {
                pending.add(channel);
            }
        }
        pending.sort(Comparator.comparingLong((Channel c) -> c.attr(FIRST_SEEN).get()));
        int all = total.get();
        Map<String, Integer> fromClient = new HashMap<>();
        for (Channel channel : pending) {
            String client = channel.remoteAddress() instanceof InetSocketAddress address ? address.getAddress().getHostAddress() : "?";
            AtomicInteger tracked = perClient.get(client);
            int mine = fromClient.merge(client, 1, Integer::sum) + (tracked == null ? 0 : tracked.get());
            if (++all > limits.maxConnections() || mine > limits.maxConnectionsPerClient()) {
                channel.close();
                all--;
                fromClient.merge(client, -1, Integer::sum);
            }
        }
    }
}
