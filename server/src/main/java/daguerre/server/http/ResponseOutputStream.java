package daguerre.server.http;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A chunked HTTP response as an {@link OutputStream}, for a worker thread that streams a body it
 * makes as it goes (a zip of gallery images): bytes are sent in chunks of {@link #CHUNK} bytes,
 * and each write waits until Vert.x has handed the previous chunk to the socket, so memory stays
 * at one chunk however slowly the client reads. A client that reads nothing for
 * {@link #STALL_SECONDS} seconds, or goes away, makes the next write throw. {@link #close} sends
 * the last chunk and ends the response; {@link #abort} breaks the connection instead, so that a
 * body that could not be finished never looks complete.
 */
final class ResponseOutputStream extends OutputStream {

    static final int CHUNK = 64 * 1024;
    static final long STALL_SECONDS = 60;

    private final HttpServerResponse response;
    private final byte[] buffer = new byte[CHUNK];
    private int used;
    private boolean closed;
    private boolean aborted;

    /** Starts a chunked response; the caller has set the status and headers. */
    ResponseOutputStream(HttpServerResponse response) {
        this.response = response.setChunked(true);
    }

    @Override
    public void write(int b) throws IOException {
        if (used == CHUNK) {
            send();
        }
        buffer[used++] = (byte) b;
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
        while (length > 0) {
            if (used == CHUNK) {
                send();
            }
            int n = Math.min(length, CHUNK - used);
            System.arraycopy(bytes, offset, buffer, used, n);
            used += n;
            offset += n;
            length -= n;
        }
    }

    /** Sends the buffered bytes and waits until they are on their way. */
    private void send() throws IOException {
        if (aborted) {
            used = 0;
            return;
        }
        if (used == 0) {
            return;
        }
        await(response.write(Buffer.buffer(java.util.Arrays.copyOf(buffer, used))));
        used = 0;
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        send();
        if (!aborted) {
            await(response.end());
        }
    }

    /** Breaks the connection (the client sees a failed response, never a cut one that looks whole); later writes are dropped. */
    void abort() {
        aborted = true;
        response.reset();
    }

    private static void await(io.vertx.core.Future<Void> write) throws IOException {
        try {
            write.toCompletionStage().toCompletableFuture().get(STALL_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("the client went away: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("the client read nothing for " + STALL_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while streaming the response", e);
        }
    }
}
