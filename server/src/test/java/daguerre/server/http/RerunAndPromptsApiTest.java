package daguerre.server.http;

import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native API's re-run of a job ({@code POST /api/v1/jobs/{id}/rerun}) and its prompt history ({@code GET /api/v1/prompts}). */
class RerunAndPromptsApiTest {

    @TempDir
    Path dataDir;
    TestServer<GradientTestEngine> server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dataDir);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void aRerunQueuesTheStoredRequestWithItsSeedOrTheOneAskedFor() throws Exception {
        String png = png(64, 64, 0x336699);
        String mask = png(64, 64, 0xffffff);
        String original = server.submit("{\"prompt\":\"a red fox\",\"negative_prompt\":\"blurry\",\"sampler\":\"ddim\",\"steps\":3,"
                + "\"guidance_scale\":5.5,\"seed\":42,\"n\":2,\"width\":64,\"height\":64,\"init_image\":\"" + png + "\",\"strength\":0.4,"
                + "\"mask\":\"" + mask + "\",\"mask_blur\":2,\"inpaint_fill\":\"latent_noise\"}");
        JsonNode first = server.awaitStatus(original, "succeeded").get("request");

        HttpResponse<String> same = server.post("/api/v1/jobs/" + original + "/rerun", "");
        assertEquals(202, same.statusCode(), same.body());
        JsonNode accepted = json(same);
        assertEquals(42, accepted.get("seed").asLong());
        assertEquals("/api/v1/jobs/" + accepted.get("id").asText(), same.headers().firstValue("Location").orElseThrow());
        JsonNode again = server.awaitStatus(accepted.get("id").asText(), "succeeded").get("request");
        assertEquals(first, again, "the same request, init image and mask included");

        JsonNode renewed = json(server.post("/api/v1/jobs/" + original + "/rerun", "{\"seed\":-1}"));
        assertNotEquals(42, renewed.get("seed").asLong());
        ObjectNode third = (ObjectNode) server.awaitStatus(renewed.get("id").asText(), "succeeded").get("request");
        assertEquals(renewed.get("seed").asLong(), third.get("seed").asLong());
        assertEquals(first, third.set("seed", first.get("seed")), "the same request, a new seed");

        JsonNode chosen = json(server.post("/api/v1/jobs/" + original + "/rerun", "{\"seed\":7}"));
        assertEquals(7, server.awaitStatus(chosen.get("id").asText(), "succeeded").at("/request/seed").asLong());
    }

    @Test
    void aRerunRefusesUnknownJobsAndBadBodies() throws Exception {
        String id = server.submit("{\"prompt\":\"x\",\"steps\":1}");
        server.awaitStatus(id, "succeeded");
        assertError(server.post("/api/v1/jobs/aaaaaaaaaaaaaaaaaaaa/rerun", ""), 404, "not_found", null);
        assertError(server.post("/api/v1/jobs/..%2Fdaguerre.db/rerun", ""), 404, "not_found", null);
        assertError(server.post("/api/v1/jobs/" + id + "/rerun", "{\"steps\":3}"), 400, "unknown_field", "steps");
        assertError(server.post("/api/v1/jobs/" + id + "/rerun", "{\"seed\":\"lucky\"}"), 400, "invalid_type", "seed");
        assertError(server.post("/api/v1/jobs/" + id + "/rerun", "{\"seed\":-5}"), 400, "out_of_range", "seed");
        assertError(server.post("/api/v1/jobs/" + id + "/rerun", "[1]"), 400, "invalid_value", null);
        assertError(server.post("/api/v1/jobs/" + id + "/rerun", "{\"seed\":"), 400, "invalid_json", null);
    }

    @Test
    void promptsListsDistinctPromptsNewestFirstAndSearches() throws Exception {
        List<String> ids = new ArrayList<>();
        for (String body : List.of("{\"prompt\":\"alpha cat\",\"steps\":1}", "{\"prompt\":\"beta dog\",\"steps\":1}",
                "{\"prompt\":\"alpha cat\",\"steps\":1,\"seed\":3}", "{\"prompt\":\"Gamma CAT\",\"negative_prompt\":\"blurry\",\"steps\":1}",
                "{\"prompt\":\"Gamma CAT\",\"steps\":1}")) {
            ids.add(server.submit(body));
        }
        for (String id : ids) {
            server.awaitStatus(id, "succeeded");
        }
        assertEquals(List.of("Gamma CAT|", "Gamma CAT|blurry", "alpha cat|", "beta dog|"), prompts(""),
                "one entry per prompt and negative prompt, the most recently submitted first");
        assertEquals(List.of("Gamma CAT|", "Gamma CAT|blurry", "alpha cat|"), prompts("?q=cat"), "search ignores case");
        assertEquals(List.of("beta dog|"), prompts("?q=A%20D"));
        assertEquals(List.of(), prompts("?q=zebra"));
        assertEquals(List.of("Gamma CAT|", "Gamma CAT|blurry"), prompts("?limit=2"));
        JsonNode item = json(server.get("/api/v1/prompts?limit=1")).get("items").get(0);
        assertTrue(item.get("last_used_at").asText().endsWith("Z"), item.toString());

        assertError(server.get("/api/v1/prompts?limit=0"), 400, "invalid_value", "limit");
        assertError(server.get("/api/v1/prompts?limit=many"), 400, "invalid_value", "limit");
        assertError(server.get("/api/v1/prompts?q=" + "a".repeat(1001)), 400, "invalid_value", "q");
    }

    /** The history as "prompt|negative prompt". */
    private List<String> prompts(String query) throws Exception {
        List<String> prompts = new ArrayList<>();
        json(server.get("/api/v1/prompts" + query)).get("items")
                .forEach(item -> prompts.add(item.get("prompt").asText() + "|" + item.get("negative_prompt").asText()));
        return prompts;
    }

    private static String png(int width, int height, int rgb) throws Exception {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, rgb);
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(image, "png", bytes);
        return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }
}
