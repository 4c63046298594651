package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A third-party client: the official OpenAI Node SDK (pinned with a lockfile in
 * {@code src/test/node/openai-sdk}) generates images against a real server. Needs Node 20 and npm;
 * the test installs the pinned SDK with {@code npm ci} when it is not installed yet.
 */
@Tag("third-party")
class OpenAiSdkClientTest {

    @TempDir
    Path dataDir;

    /** {@code npm ci} from the lockfile, once; fails with npm's output when it cannot. */
    private static void installSdk(Path project) throws Exception {
        if (Files.isDirectory(project.resolve("node_modules/openai"))) {
            return;
        }
        Process npm = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(project.toFile())
                .redirectErrorStream(true).start();
        String output = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(npm.waitFor(300, TimeUnit.SECONDS), "npm ci timed out");
        assertEquals(0, npm.exitValue(), "npm ci failed in " + project + ":\n" + output);
    }

    @Test
    void officialOpenAiSdkGeneratesImages() throws Exception {
        Path project = Path.of(System.getProperty("daguerre.openaiSdkDir", "src/test/node/openai-sdk")).toAbsolutePath();
        installSdk(project);
        try (var server = TestServer.start(dataDir, new GradientTestEngine(1), c -> c.withApiKeys(List.of("sdk-key")))) {
            ProcessBuilder node = new ProcessBuilder("node", "images.mjs").directory(project.toFile()).redirectErrorStream(true);
            node.environment().put("OPENAI_BASE_URL", "http://127.0.0.1:" + server.port() + "/v1");
            node.environment().put("OPENAI_API_KEY", "sdk-key");
            Process process = node.start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, process.exitValue(), output);
            JsonNode result = TestServer.JSON.readTree(output.lines().reduce((a, b) -> b).orElseThrow());

            assertEquals("[\"tiny\",\"wide\"]", result.get("models").toString(), output);
            assertEquals(2, result.get("b64").size(), output);
            for (JsonNode image : result.get("b64")) {
                assertEquals("PNG", image.get("signature").asText());
                assertTrue(image.get("bytes").asInt() > 100);
                assertEquals("a lighthouse, drawn by the OpenAI SDK", image.get("revised_prompt").asText());
            }
            assertTrue(result.get("url").asText().startsWith("http://127.0.0.1:" + server.port() + "/api/v1/images/"), output);
            assertEquals("NotFoundError", result.at("/error/name").asText(), output);
            assertEquals(404, result.at("/error/status").asInt());
            assertEquals("model", result.at("/error/param").asText());
            assertEquals("model_not_found", result.at("/error/code").asText());
            assertEquals("invalid_request_error", result.at("/error/type").asText());
            assertEquals("AuthenticationError", result.at("/unauthorized/name").asText(), output);
            assertEquals(401, result.at("/unauthorized/status").asInt());
        }
    }
}
