package daguerre.server.http;

import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gallery: stored PNGs with metadata, search, thumbnails, favourites, delete. */
class GalleryApiTest {

    @TempDir
    static Path dataDir;
    static TestServer<GradientTestEngine> server;
    static List<String> images = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        // the 512x256 image of the thumbnail test is larger than the 64 px test model allows by default
        server = TestServer.start(dataDir, new GradientTestEngine(2), c -> c.withLimits(c.limits().withMaxPixels(512 * 256)));
        String[] bodies = {
            "{\"prompt\":\"a lighthouse at dusk\",\"steps\":1,\"seed\":1}",
            "{\"prompt\":\"a red fox in snow\",\"negative_prompt\":\"blurry\",\"steps\":1,\"seed\":2,\"sampler\":\"ddim\"}",
            "{\"prompt\":\"a fox and a lighthouse\",\"steps\":1,\"seed\":3,\"model\":\"wide\"}",
        };
        for (String body : bodies) {
            JsonNode job = server.awaitStatus(server.submit(body), "succeeded");
            images.add(job.get("images").get(0).asText());
        }
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static List<String> ids(String query) throws Exception {
        HttpResponse<String> response = server.get("/api/v1/images" + query);
        assertEquals(200, response.statusCode(), response.body());
        List<String> ids = new ArrayList<>();
        json(response).get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    @Test
    void storedPngCarriesParametersAndTheFullRequest() throws Exception {
        HttpResponse<byte[]> png = server.getBytes("/api/v1/images/" + images.get(1));
        assertEquals(200, png.statusCode());
        Map<String, String> texts = PngText.read(png.body());
        assertTrue(texts.get("parameters").startsWith("a red fox in snow\nNegative prompt: blurry\nSteps: 1"), texts.toString());
        JsonNode request = TestServer.JSON.readTree(texts.get("daguerre"));
        assertEquals("ddim", request.get("sampler").asText());
        assertEquals(2, request.get("seed").asLong());
        assertNotNull(request.get("job_id"));
        try (Stream<Path> files = Files.walk(dataDir.resolve("images"))) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    @Test
    void listIsNewestFirstWithFiltersAndFullTextSearch() throws Exception {
        assertEquals(List.of(images.get(2), images.get(1), images.get(0)), ids(""));
        assertEquals(List.of(images.get(2), images.get(1)), ids("?q=fox"));
        assertEquals(List.of(images.get(2)), ids("?q=fox%20lighthouse"));
        assertEquals(List.of(images.get(1)), ids("?q=blurry"));
        assertEquals(List.of(), ids("?q=%22unbalanced%20OR%20NEAR("));
        assertEquals(List.of(images.get(2)), ids("?model=wide"));
        assertEquals(List.of(images.get(1)), ids("?sampler=ddim"));
        String today = LocalDate.now(ZoneOffset.UTC).toString();
        String tomorrow = LocalDate.now(ZoneOffset.UTC).plusDays(1).toString();
        assertEquals(3, ids("?from=" + today + "&to=" + tomorrow).size());
        assertEquals(List.of(), ids("?from=" + tomorrow));
        JsonNode item = json(server.get("/api/v1/images?q=lighthouse&model=tiny")).get("items").get(0);
        assertEquals("a lighthouse at dusk", item.get("prompt").asText());
        assertEquals(64, item.get("width").asInt());
        assertEquals(1, item.get("seed").asLong());
        assertTrue(item.get("created_at").asText().endsWith("Z"));
    }

    @Test
    void cursorPagesThroughEverything() throws Exception {
        JsonNode first = json(server.get("/api/v1/images?limit=2"));
        assertEquals(2, first.get("items").size());
        String cursor = first.get("next_cursor").asText();
        JsonNode second = json(server.get("/api/v1/images?limit=2&cursor=" + cursor));
        assertEquals(1, second.get("items").size());
        assertTrue(second.get("next_cursor").isNull());
        assertEquals(images.get(0), second.get("items").get(0).get("id").asText());
    }

    @Test
    void badQueryParametersGet400() throws Exception {
        assertError(server.get("/api/v1/images?limit=0"), 400, "invalid_value", "limit");
        assertError(server.get("/api/v1/images?limit=abc"), 400, "invalid_value", "limit");
        assertError(server.get("/api/v1/images?favorite=maybe"), 400, "invalid_value", "favorite");
        assertError(server.get("/api/v1/images?from=yesterday"), 400, "invalid_value", "from");
        assertError(server.get("/api/v1/images?cursor=%21%21"), 400, "invalid_value", "cursor");
    }

    @Test
    void thumbnailIsAtMost256PixelsAndCached() throws Exception {
        String big = server.awaitStatus(server.submit("{\"prompt\":\"big\",\"steps\":1,\"width\":512,\"height\":256}"),
                "succeeded").get("images").get(0).asText();
        try {
            HttpResponse<byte[]> thumbnail = server.getBytes("/api/v1/images/" + big + "/thumbnail");
            assertEquals(200, thumbnail.statusCode());
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(thumbnail.body()));
            assertEquals(256, image.getWidth());
            assertEquals(128, image.getHeight());
            assertTrue(Files.isRegularFile(dataDir.resolve("thumbnails").resolve(big + ".png")));
            HttpResponse<byte[]> small = server.getBytes("/api/v1/images/" + images.get(2) + "/thumbnail");
            assertEquals(128, ImageIO.read(new ByteArrayInputStream(small.body())).getWidth(), "small images are not enlarged");
        } finally {
            server.delete("/api/v1/images/" + big);
        }
    }

    @Test
    void metadataHoldsInfotextRequestAndChunks() throws Exception {
        JsonNode metadata = json(server.get("/api/v1/images/" + images.get(0) + "/metadata"));
        assertEquals("a lighthouse at dusk", metadata.get("prompt").asText());
        assertTrue(metadata.get("infotext").asText().contains("Seed: 1"));
        assertEquals(1, metadata.at("/request/seed").asLong());
        assertTrue(metadata.at("/png_text/parameters").isTextual());
        assertTrue(metadata.at("/png_text/daguerre").isTextual());
    }

    @Test
    void favoriteCanBeSetAndFiltered() throws Exception {
        HttpResponse<String> patched = server.patch("/api/v1/images/" + images.get(0), "{\"favorite\":true}");
        assertEquals(200, patched.statusCode(), patched.body());
        assertTrue(json(patched).get("favorite").asBoolean());
        assertEquals(List.of(images.get(0)), ids("?favorite=true"));
        assertFalse(ids("?favorite=false").contains(images.get(0)));
        assertError(server.patch("/api/v1/images/" + images.get(0), "{\"favorite\":\"yes\"}"), 400, "invalid_type", "favorite");
        assertError(server.patch("/api/v1/images/" + images.get(0), "{}"), 400, "missing_field", "favorite");
        assertError(server.patch("/api/v1/images/aaaaaaaaaaaaaaaaaaaa", "{\"favorite\":true}"), 404, "not_found", null);
        server.patch("/api/v1/images/" + images.get(0), "{\"favorite\":false}");
    }

    @Test
    void deleteRemovesFileAndRow() throws Exception {
        String id = server.awaitStatus(server.submit("{\"prompt\":\"to delete\",\"steps\":1}"), "succeeded").get("images").get(0).asText();
        assertEquals(200, server.getBytes("/api/v1/images/" + id + "/thumbnail").statusCode());
        assertEquals(204, server.delete("/api/v1/images/" + id).statusCode());
        assertError(server.get("/api/v1/images/" + id + "/metadata"), 404, "not_found", null);
        assertEquals(404, server.getBytes("/api/v1/images/" + id).statusCode());
        assertError(server.delete("/api/v1/images/" + id), 404, "not_found", null);
        assertFalse(Files.exists(dataDir.resolve("images").resolve(id.substring(0, 2)).resolve(id + ".png")));
        assertFalse(Files.exists(dataDir.resolve("thumbnails").resolve(id + ".png")));
    }

    @Test
    void idsThatAreNotIdsFindNothing() throws Exception {
        Files.writeString(dataDir.resolve("secret.txt"), "secret");
        for (String id : List.of("..%2Fsecret.txt", "..%2F..%2Fdaguerre.db", "%2E%2E%2Fdaguerre.db", "AAAAAAAAAAAAAAAAAAAA",
                "aaaaaaaaaaaaaaaaaaaa")) {
            HttpResponse<byte[]> png = server.getBytes("/api/v1/images/" + id);
            assertEquals(404, png.statusCode(), id);
            assertError(server.get("/api/v1/images/" + id + "/metadata"), 404, "not_found", null);
            assertEquals(404, server.getBytes("/api/v1/images/" + id + "/thumbnail").statusCode(), id);
            assertEquals(404, server.delete("/api/v1/images/" + id).statusCode(), id);
        }
        assertTrue(Files.exists(dataDir.resolve("daguerre.db")));
    }
}
