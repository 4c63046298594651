package daguerre.server.config;

/**
 * What idle and slow connections may hold, so that sockets that send nothing, or send headers or
 * a body byte by byte, cannot pile up (slow-loris).
 *
 * @param maxConnections most connections open at once; further ones are closed as they open
 * @param maxConnectionsPerClient most connections open at once from one client address
 * @param idleTimeoutMillis a connection must send a complete request head within this time of
 *     opening or of its previous answer, else it is closed (the keep-alive idle time, and the bound
 *     on headers sent slowly); while the service works on a request (a job a synchronous request
 *     waits for, an event stream) nothing times out
 * @param minBodyBytesPerSecond after a grace of {@code idleTimeoutMillis}, a request body must have
 *     arrived at this rate on average, else the connection is closed
 */
public record ConnectionLimits(int maxConnections, int maxConnectionsPerClient, long idleTimeoutMillis, long minBodyBytesPerSecond) {

    /** 512 connections, 100 per client address, 30 s to send a request head, bodies at 16 KiB/s at least. */
    public static final ConnectionLimits DEFAULTS = new ConnectionLimits(512, 100, 30_000, 16 << 10);

    public ConnectionLimits {
        if (maxConnections < 1 || maxConnectionsPerClient < 1 || idleTimeoutMillis < 1 || minBodyBytesPerSecond < 0) {
            throw new IllegalArgumentException("connection limits must be positive: " + maxConnections + ", "
                    + maxConnectionsPerClient + ", " + idleTimeoutMillis + " ms, " + minBodyBytesPerSecond + " B/s");
        }
    }
}
