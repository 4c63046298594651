package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.config.ConnectionLimits;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Idle, slow-header and slow-body connections are closed, and connections over a cap are refused, while real requests are served. */
class SlowConnectionTest {

    @TempDir
    Path dataDir;

    private static Socket connect(TestServer<?> server, String fromAddress) throws IOException {
        return new Socket(InetAddress.getByName("127.0.0.1"), server.port(), InetAddress.getByName(fromAddress), 0);
    }

    /** Whether the server closes {@code socket} within {@code millis}, writing {@code trickle} a byte at a time meanwhile. */
    private static boolean closedWithin(Socket socket, long millis, byte[] trickle) throws IOException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        InputStream in = socket.getInputStream();
        OutputStream out = socket.getOutputStream();
        socket.setSoTimeout(50);
        int sent = 0;
        while (System.nanoTime() < deadline) {
            try {
                if (in.read() == -1) {
                    return true;
                }
            } catch (SocketTimeoutException stillOpen) {
                // nothing from the server yet
            } catch (SocketException reset) {
                return true;
            }
            if (trickle != null && sent < trickle.length) {
                try {
                    out.write(trickle[sent++]);
                    out.flush();
                    Thread.sleep(100);
                } catch (SocketException closed) {
                    return true;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return false;
    }

    /** Sends GET /healthz on {@code socket} (kept alive) and reads the whole answer. */
    private static void assertHealthy(Socket socket) throws IOException {
        socket.getOutputStream().write(ascii("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        socket.setSoTimeout(5000);
        StringBuilder answer = new StringBuilder();
        InputStream in = socket.getInputStream();
        while (!answer.toString().endsWith("}")) {
            int b = in.read();
            if (b == -1) {
                break;
            }
            answer.append((char) b);
        }
        assertTrue(answer.toString().startsWith("HTTP/1.1 200"), answer.toString());
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void idleAndSlowConnectionsAreClosedAndWorkInProgressIsNot() throws Exception {
        ConnectionLimits limits = new ConnectionLimits(100, 100, 600, 1000);
        try (TestServer<GradientTestEngine> server = TestServer.start(dataDir, new GradientTestEngine(100),
                c -> c.withConnections(limits))) {
            try (Socket idle = connect(server, "127.0.0.1")) {
                assertTrue(closedWithin(idle, 5000, null), "a connection that sends nothing is closed");
            }
            try (Socket slowHeader = connect(server, "127.0.0.1")) {
                assertHealthy(slowHeader);
                String head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-Padding: " + "a".repeat(200);
                assertTrue(closedWithin(slowHeader, 5000, ascii(head)), "headers sent a byte every 100 ms never make a head");
            }
            try (Socket slowFirstHeader = connect(server, "127.0.0.1")) {
                String head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-Padding: " + "a".repeat(200);
                assertTrue(closedWithin(slowFirstHeader, 5000, ascii(head)),
                        "a first request's headers sent a byte every 100 ms (each byte resets an idle timer) time out too");
            }
            try (Socket slowBody = connect(server, "127.0.0.1")) {
                slowBody.getOutputStream().write(ascii("POST /api/v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"));
                assertTrue(closedWithin(slowBody, 6000, ascii("{\"prompt\":\"" + "a".repeat(1000))),
                        "a body at 10 bytes a second, under the 1000 B/s minimum, is cut off");
            }
            try (Socket keptAlive = connect(server, "127.0.0.1")) {
                assertHealthy(keptAlive);
                assertTrue(closedWithin(keptAlive, 5000, null), "a kept-alive connection idle past the timeout is closed");
            }
            // 20 steps of 100 ms: the synchronous request waits three idle timeouts for its answer
            assertEquals(200, server.post("/v1/images/generations",
                    "{\"prompt\":\"a cat\",\"size\":\"64x64\",\"steps\":20}").statusCode());
        }
    }

    @Test
    void connectionsThatNeverSendARequestCountAgainstTheCaps() throws Exception {
        ConnectionLimits limits = new ConnectionLimits(100, 2, 30_000, 1000);
        try (TestServer<GradientTestEngine> server = TestServer.start(dataDir, new GradientTestEngine(1),
                c -> c.withConnections(limits))) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    silent.add(connect(server, "127.0.0.1"));
                }
                // long before the 30 s idle timeout, one silent connection over the per-client cap of 2 is closed
                long deadline = System.nanoTime() + 5_000_000_000L;
                List<Socket> open = silent;
                while (open.size() == 3 && System.nanoTime() < deadline) {
                    List<Socket> stillOpen = new ArrayList<>();
                    for (Socket socket : open) {
                        if (!closedWithin(socket, 20, null)) {
                            stillOpen.add(socket);
                        }
                    }
                    open = stillOpen;
                }
                assertEquals(2, open.size(), "three silent connections from one address, cap 2: one is closed");
                for (Socket socket : open) {
                    assertHealthy(socket);
                }
            } finally {
                for (Socket socket : silent) {
                    socket.close();
                }
            }
        }
    }

    @Test
    void connectionsOverTheCapsAreRefusedAndOthersServed() throws Exception {
        ConnectionLimits limits = new ConnectionLimits(3, 2, 30_000, 1000);
        try (TestServer<GradientTestEngine> server = TestServer.start(dataDir, new GradientTestEngine(1),
                c -> c.withConnections(limits))) {
            List<Socket> held = new ArrayList<>();
            try {
                held.add(connect(server, "127.0.0.1"));
                held.add(connect(server, "127.0.0.1"));
                held.add(connect(server, "127.0.0.2"));
                for (Socket socket : held) {
                    assertHealthy(socket);
                    assertFalse(closedWithin(socket, 300, null), "within both caps: kept open");
                }
                byte[] request = ascii("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                try (Socket third = connect(server, "127.0.0.1")) {
                    third.getOutputStream().write(request);
                    assertTrue(closedWithin(third, 3000, null), "a third connection from one address is over the per-client cap");
                }
                try (Socket fourth = connect(server, "127.0.0.3")) {
                    fourth.getOutputStream().write(request);
                    assertTrue(closedWithin(fourth, 3000, null), "a fourth connection in all is over the total cap");
                }
                held.remove(0).close();
                Thread.sleep(200); // the server sees the close
                assertEquals(200, server.get("/healthz").statusCode(), "a real request is served once there is room");
            } finally {
                for (Socket socket : held) {
                    socket.close();
                }
            }
        }
    }
}
