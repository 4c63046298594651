package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import javax.imageio.ImageIO;
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

    /**
     * The SDK's {@code images.edit} against the tiny real model: the image with a mask whose transparent
     * square is the area to edit comes back with every pixel outside the blurred square kept; an image
     * with its own transparency is its mask; an opaque image without a mask is refused, naming it.
     */
    @Test
    void officialOpenAiSdkEditsImagesWithAMask() throws Exception {
        Path project = Path.of(System.getProperty("daguerre.openaiSdkDir", "src/test/node/openai-sdk")).toAbsolutePath();
        installSdk(project);
        Path model = daguerre.diffusion.testing.TinyModelFolder.create(dataDir, "tiny");
        try (var engine = daguerre.server.engine.PipelineEngine.load(List.of(model), new daguerre.weights.model.ModelHasher(), 1);
             var server = TestServer.start(dataDir.resolve("data"), engine, c -> c)) {
            int size = TestServer.json(server.get("/api/v1/models")).get("items").get(0).get("default_width").asInt();
            java.util.Random random = new java.util.Random(5);
            BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            BufferedImage mask = new BufferedImage(size, size, BufferedImage.TYPE_INT_ARGB);
            BufferedImage withAlpha = new BufferedImage(size, size, BufferedImage.TYPE_INT_ARGB);
            int x0 = size * 3 / 8;
            int x1 = size * 5 / 8;
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int rgb = random.nextInt(0x1000000);
                    boolean edit = x >= x0 && x < x1 && y >= x0 && y < x1;
                    image.setRGB(x, y, rgb);
                    mask.setRGB(x, y, edit ? 0x00000000 : 0xff000000);
                    withAlpha.setRGB(x, y, edit ? rgb : 0xff000000 | rgb);
                }
            }
            Path imageFile = dataDir.resolve("image.png");
            Path maskFile = dataDir.resolve("mask.png");
            Path alphaFile = dataDir.resolve("alpha.png");
            ImageIO.write(image, "png", imageFile.toFile());
            ImageIO.write(mask, "png", maskFile.toFile());
            ImageIO.write(withAlpha, "png", alphaFile.toFile());
            ProcessBuilder node = new ProcessBuilder("node", "edit.mjs").directory(project.toFile()).redirectErrorStream(true);
            node.environment().put("OPENAI_BASE_URL", "http://127.0.0.1:" + server.port() + "/v1");
            node.environment().put("OPENAI_API_KEY", "none");
            node.environment().put("EDIT_IMAGE", imageFile.toString());
            node.environment().put("EDIT_MASK", maskFile.toString());
            node.environment().put("EDIT_ALPHA_IMAGE", alphaFile.toString());
            node.environment().put("EDIT_SIZE", size + "x" + size);
            Process process = node.start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, process.exitValue(), output);
            JsonNode result = TestServer.JSON.readTree(output.lines().reduce((a, b) -> b).orElseThrow());

            assertEquals("a red apple, edited by the OpenAI SDK", result.get("revised_prompt").asText(), output);
            BufferedImage edited = ImageIO.read(new java.io.ByteArrayInputStream(java.util.Base64.getDecoder().decode(result.get("b64").get(0).asText())));
            assertEquals(size, edited.getWidth());
            int reach = 2 * (int) (2.5 * 4 + 0.5) / 2 + 1; // the default mask blur's kernel radius, and a pixel more
            int kept = 0;
            int changed = 0;
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int d = Math.max(Math.max(x0 - x, x - (x1 - 1)), Math.max(x0 - y, y - (x1 - 1)));
                    int a = image.getRGB(x, y);
                    int b = edited.getRGB(x, y);
                    int diff = 0;
                    for (int shift = 0; shift <= 16; shift += 8) {
                        diff = Math.max(diff, Math.abs(((a >> shift) & 0xff) - ((b >> shift) & 0xff)));
                    }
                    if (d > reach) {
                        assertTrue(diff <= 1, "pixel " + x + "," + y + " outside the edited area changed by " + diff);
                        kept++;
                    } else if (d <= 0 && diff > 8) {
                        changed++;
                    }
                }
            }
            assertTrue(kept > 0 && changed > 0, "kept " + kept + ", changed " + changed);
            assertTrue(result.get("url").asText().startsWith("http://127.0.0.1:" + server.port() + "/api/v1/images/"), output);
            assertEquals("BadRequestError", result.at("/error/name").asText(), output);
            assertEquals("image", result.at("/error/param").asText(), output);
            assertEquals("invalid_request_error", result.at("/error/type").asText(), output);
        }
    }
}
