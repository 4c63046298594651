package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import daguerre.server.config.ServeConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The URLs the service returns come from --public-url or the listening address, never from the client's Host header. */
class PublicUrlTest {

    @TempDir
    Path dataDir;

    /** The image URL of an OpenAI url-format generation sent with a forged Host header. */
    private String imageUrl(UnaryOperator<ServeConfig> customize) throws Exception {
        try (TestServer<GradientTestEngine> server = TestServer.start(dataDir, new GradientTestEngine(1), customize);
             Socket socket = new Socket("127.0.0.1", server.port())) {
            byte[] body = "{\"prompt\":\"a cat\",\"size\":\"64x64\",\"response_format\":\"url\"}".getBytes(StandardCharsets.UTF_8);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/images/generations HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            String json = answer.substring(answer.indexOf("\r\n\r\n") + 4);
            String url = TestServer.JSON.readTree(json).get("data").get(0).get("url").asText();
            assertTrue(url.matches(".*/api/v1/images/[a-z2-7]{20}"), url);
            return url.substring(0, url.indexOf("/api/v1/images/")) + "|" + server.port();
        }
    }

    @Test
    void withoutAPublicUrlTheListeningAddressIsUsed() throws Exception {
        String[] urlAndPort = imageUrl(c -> c).split("\\|");
        assertEquals("http://127.0.0.1:" + urlAndPort[1], urlAndPort[0]);
    }

    @Test
    void thePublicUrlIsUsedWhenSet() throws Exception {
        assertEquals("https://images.example.com/daguerre",
                imageUrl(c -> c.withPublicUrl("https://images.example.com/daguerre")).split("\\|")[0]);
    }
}
