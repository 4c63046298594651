package daguerre.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * An HTTP/1.1 client on a raw socket, for requests no real client sends: malformed request lines,
 * bad percent-escapes, unknown charsets, URIs over the server's limit. One request per connection:
 * it reads the answer until the server closes or, with a {@code Content-Length}, until the body is in.
 */
public final class RawHttp {

    /** A parsed answer; {@code status} -1 when the server closed without one. */
    public record Response(int status, Map<String, String> headers, String body) {

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public static final Response NONE = new Response(-1, Map.of(), "");
    }

    private RawHttp() {}

    /** Sends {@code method target} with {@code headers} (lines without CRLF) and {@code body} on a new connection to 127.0.0.1. */
    public static Response send(int port, String method, String target, Map<String, String> headers, byte[] body) throws IOException {
        StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        if (body != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            request.writeBytes(body);
        }
        return exchange(port, request.toByteArray());
    }

    /** Writes {@code request} as it is and reads the answer (at most 30 s). */
    public static Response exchange(int port, byte[] request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write(request);
            socket.getOutputStream().flush();
            return read(socket.getInputStream());
        }
    }

    private static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) != -1; ) {
                received.write(buffer, 0, n);
                Response complete = parse(received.toByteArray(), false);
                if (complete != null) {
                    return complete;
                }
            }
        } catch (SocketTimeoutException | java.net.SocketException e) {
            // a reset or a stall: parse what came
        }
        Response response = parse(received.toByteArray(), true);
        return response == null ? Response.NONE : response;
    }

    /** The response in {@code bytes}, or null if it is not complete yet (unless {@code atEnd}: then the body is what came). */
    private static Response parse(byte[] bytes, boolean atEnd) {
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int headEnd = text.indexOf("\r\n\r\n");
        if (headEnd < 0) {
            return null;
        }
        String[] lines = text.substring(0, headEnd).split("\r\n");
        String[] statusLine = lines[0].split(" ", 3);
        if (statusLine.length < 2 || !statusLine[1].matches("\\d{3}")) {
            return null;
        }
        Map<String, String> headers = new TreeMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
            }
        }
        int status = Integer.parseInt(statusLine[1]);
        byte[] rest = java.util.Arrays.copyOfRange(bytes, headEnd + 4, bytes.length);
        String length = headers.get("content-length");
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            String body = dechunk(rest);
            return body != null || atEnd ? new Response(status, headers, body == null ? new String(rest, StandardCharsets.UTF_8) : body) : null;
        }
        if (length != null) {
            int expected = Integer.parseInt(length);
            if (rest.length < expected && !atEnd) {
                return null;
            }
            return new Response(status, headers, new String(rest, 0, Math.min(expected, rest.length), StandardCharsets.UTF_8));
        }
        return atEnd || status == 204 || status == 304 ? new Response(status, headers, new String(rest, StandardCharsets.UTF_8)) : null;
    }

    /** A chunked body decoded, or null while its last chunk has not come. */
    private static String dechunk(byte[] rest) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int at = 0;
        while (true) {
            int lineEnd = indexOf(rest, at);
            if (lineEnd < 0) {
                return null;
            }
            String sizeText = new String(rest, at, lineEnd - at, StandardCharsets.ISO_8859_1).split(";")[0].strip();
            int size = Integer.parseInt(sizeText, 16);
            at = lineEnd + 2;
            if (size == 0) {
                return body.toString(StandardCharsets.UTF_8);
            }
            if (at + size + 2 > rest.length) {
                return null;
            }
            body.write(rest, at, size);
            at += size + 2;
        }
    }

    private static int indexOf(byte[] bytes, int from) {
        for (int i = from; i + 1 < bytes.length; i++) {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
