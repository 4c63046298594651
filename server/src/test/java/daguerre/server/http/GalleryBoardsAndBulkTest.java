package daguerre.server.http;

import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gallery's boards, bulk changes, zip download, and the sort and size filters, through real
 * HTTP. Each test makes the images it changes, so the tests do not depend on one another.
 */
class GalleryBoardsAndBulkTest {

    @TempDir
    static Path dataDir;
    static TestServer<GradientTestEngine> server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dataDir, new GradientTestEngine(1), c -> c.withLimits(c.limits().withMaxPixels(128 * 64)));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Generates images with this prompt (n of them) and returns their ids. */
    private static List<String> images(String prompt, int n, String extra) throws Exception {
        JsonNode job = server.awaitStatus(server.submit("{\"prompt\":\"" + prompt + "\",\"steps\":1,\"n\":" + n + extra + "}"), "succeeded");
        List<String> ids = new ArrayList<>();
        job.get("images").forEach(id -> ids.add(id.asText()));
        return ids;
    }

    private static List<String> ids(String query) throws Exception {
        HttpResponse<String> response = server.get("/api/v1/images?limit=200&" + query);
        assertEquals(200, response.statusCode(), response.body());
        List<String> ids = new ArrayList<>();
        json(response).get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    private static String idsJson(List<String> ids) throws IOException {
        return TestServer.JSON.writeValueAsString(ids);
    }

    private static JsonNode createBoard(String name) throws Exception {
        HttpResponse<String> created = server.post("/api/v1/boards", "{\"name\":\"" + name + "\"}");
        assertEquals(201, created.statusCode(), created.body());
        JsonNode board = json(created);
        assertEquals("/api/v1/boards/" + board.get("id").asText(), created.headers().firstValue("Location").orElseThrow());
        return board;
    }

    private static JsonNode board(String id) throws Exception {
        for (JsonNode board : json(server.get("/api/v1/boards")).get("items")) {
            if (board.get("id").asText().equals(id)) {
                return board;
            }
        }
        return null;
    }

    private static HttpResponse<byte[]> zip(String body) throws Exception {
        return server.client().send(HttpRequest.newBuilder(server.uri("/api/v1/images/zip")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void boardsAreCreatedRenamedCountedAndDeletedKeepingTheirImages() throws Exception {
        List<String> cats = images("board cats", 3, "");
        JsonNode board = createBoard("  Cats ");
        String id = board.get("id").asText();
        assertEquals("Cats", board.get("name").asText());
        assertEquals(0, board.get("image_count").asLong());
        assertTrue(board.get("created_at").asText().endsWith("Z"));

        HttpResponse<String> moved = server.patch("/api/v1/images/" + cats.get(0), "{\"board\":\"" + id + "\"}");
        assertEquals(200, moved.statusCode(), moved.body());
        assertEquals(id, json(moved).get("board").asText());
        assertEquals(200, server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(cats.subList(1, 3)) + ",\"action\":\"move\",\"board\":\""
                + id + "\"}").statusCode());
        assertEquals(3, board(id).get("image_count").asLong());
        assertEquals(Set.copyOf(cats), Set.copyOf(ids("board=" + id)));
        assertTrue(ids("board=none").stream().noneMatch(cats::contains));
        long unboarded = json(server.get("/api/v1/boards")).get("unboarded_count").asLong();
        assertEquals(ids("board=none").size(), unboarded);

        assertError(server.post("/api/v1/boards", "{\"name\":\"cats\"}"), 409, "board_exists", "name");
        assertError(server.post("/api/v1/boards", "{\"name\":\"   \"}"), 400, "missing_field", "name");
        assertError(server.post("/api/v1/boards", "{\"name\":\"a\\nb\"}"), 400, "invalid_value", "name");
        assertError(server.post("/api/v1/boards", "{\"name\":\"" + "x".repeat(65) + "\"}"), 400, "invalid_value", "name");
        assertError(server.post("/api/v1/boards", "{\"name\":7}"), 400, "invalid_type", "name");
        assertError(server.post("/api/v1/boards", "[]"), 400, "missing_field", "name");

        HttpResponse<String> renamed = server.patch("/api/v1/boards/" + id, "{\"name\":\"Cats and kittens\"}");
        assertEquals(200, renamed.statusCode(), renamed.body());
        assertEquals("Cats and kittens", json(renamed).get("name").asText());
        assertEquals(3, json(renamed).get("image_count").asLong());
        JsonNode other = createBoard("Dogs");
        assertError(server.patch("/api/v1/boards/" + other.get("id").asText(), "{\"name\":\"CATS AND KITTENS\"}"), 409, "board_exists",
                "name");
        assertError(server.patch("/api/v1/boards/aaaaaaaaaaaaaaaaaaaa", "{\"name\":\"x\"}"), 404, "not_found", null);

        HttpResponse<String> unboard = server.patch("/api/v1/images/" + cats.get(0), "{\"board\":null}");
        assertTrue(json(unboard).get("board").isNull());
        assertEquals(2, board(id).get("image_count").asLong());

        assertEquals(204, server.delete("/api/v1/boards/" + id).statusCode());
        assertNull(board(id));
        for (String image : cats) {
            JsonNode metadata = json(server.get("/api/v1/images/" + image + "/metadata"));
            assertTrue(metadata.get("board").isNull(), "the image stays, on no board: " + metadata);
        }
        assertTrue(ids("board=none").containsAll(cats));
        assertError(server.delete("/api/v1/boards/" + id), 404, "not_found", null);
        assertError(server.get("/api/v1/images?board=" + id), 404, "not_found", "board");
        assertError(server.get("/api/v1/images?board=cats"), 400, "invalid_value", "board");
        assertError(server.patch("/api/v1/images/" + cats.get(0), "{\"board\":\"" + id + "\"}"), 404, "not_found", "board");
        assertError(server.patch("/api/v1/images/" + cats.get(0), "{\"board\":5}"), 400, "invalid_type", "board");
        assertError(server.patch("/api/v1/images/" + cats.get(0), "{\"tag\":5}"), 400, "missing_field", "favorite");
        server.delete("/api/v1/boards/" + other.get("id").asText());
    }

    @Test
    void bulkChangesEveryImageOrNoneWhenAnIdIsUnknown() throws Exception {
        List<String> batch = images("bulk batch", 4, "");
        HttpResponse<String> favourite = server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(batch) + ",\"action\":\"favorite\"}");
        assertEquals(200, favourite.statusCode(), favourite.body());
        assertEquals(4, json(favourite).get("count").asInt());
        assertEquals("favorite", json(favourite).get("action").asText());
        assertTrue(ids("favorite=true").containsAll(batch));

        List<String> withUnknown = new ArrayList<>(batch.subList(0, 2));
        withUnknown.add("aaaaaaaaaaaaaaaaaaaa");
        HttpResponse<String> refused = server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(withUnknown) + ",\"action\":\"unfavorite\"}");
        assertError(refused, 404, "not_found", "ids");
        assertTrue(json(refused).at("/error/message").asText().contains("aaaaaaaaaaaaaaaaaaaa"), refused.body());
        assertTrue(ids("favorite=true").containsAll(batch), "nothing changed");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(withUnknown) + ",\"action\":\"delete\"}"), 404, "not_found",
                "ids");
        assertEquals(200, server.getBytes("/api/v1/images/" + batch.get(0)).statusCode(), "nothing deleted");

        assertEquals(2, json(server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(batch.subList(0, 2))
                + ",\"action\":\"unfavorite\"}")).get("count").asInt());
        assertFalse(ids("favorite=true").contains(batch.get(0)));
        assertTrue(ids("favorite=true").contains(batch.get(2)));

        List<String> repeated = List.of(batch.get(0), batch.get(1), batch.get(0));
        HttpResponse<String> deleted = server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(repeated) + ",\"action\":\"delete\"}");
        assertEquals(2, json(deleted).get("count").asInt(), deleted.body());
        for (String id : batch.subList(0, 2)) {
            assertEquals(404, server.getBytes("/api/v1/images/" + id).statusCode());
            assertFalse(Files.exists(dataDir.resolve("images").resolve(id.substring(0, 2)).resolve(id + ".png")));
        }
        assertEquals(200, server.getBytes("/api/v1/images/" + batch.get(2)).statusCode());

        String two = idsJson(batch.subList(2, 4));
        assertError(server.post("/api/v1/images/bulk", "{\"action\":\"delete\"}"), 400, "missing_field", "ids");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":[],\"action\":\"delete\"}"), 400, "invalid_value", "ids");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":\"" + batch.get(2) + "\",\"action\":\"delete\"}"), 400, "invalid_value",
                "ids");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":[1],\"action\":\"delete\"}"), 400, "invalid_type", "ids");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + two + "}"), 400, "missing_field", "action");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + two + ",\"action\":\"burn\"}"), 400, "invalid_value", "action");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + two + ",\"action\":\"move\"}"), 400, "missing_field", "board");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + two + ",\"action\":\"favorite\",\"board\":null}"), 400,
                "invalid_value", "board");
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + two + ",\"action\":\"move\",\"board\":\"bbbbbbbbbbbbbbbbbbbb\"}"), 404,
                "not_found", "board");
        List<String> tooMany = java.util.Collections.nCopies(GalleryApi.MAX_IDS + 1, batch.get(2));
        assertError(server.post("/api/v1/images/bulk", "{\"ids\":" + idsJson(tooMany) + ",\"action\":\"favorite\"}"), 400,
                "invalid_value", "ids");
    }

    @Test
    void zipHoldsTheStoredPngsByteForByteAndLeavesNoFileBehind() throws Exception {
        List<String> chosen = images("a red fox, in the snow!", 3, "");
        Set<String> dataFilesBefore = files(dataDir);
        Set<Path> tempBefore = tempFiles();

        HttpResponse<byte[]> response = zip("{\"ids\":" + idsJson(chosen) + "}");
        assertEquals(200, response.statusCode(), new String(response.body()));
        assertEquals("application/zip", response.headers().firstValue("Content-Type").orElseThrow());
        assertEquals("attachment; filename=\"daguerre-3-images.zip\"", response.headers().firstValue("Content-Disposition").orElseThrow());
        Map<String, byte[]> entries = new LinkedHashMap<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(response.body()))) {
            for (ZipEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                entries.put(entry.getName(), in.readAllBytes());
            }
        }
        assertEquals(chosen.stream().map(id -> "a-red-fox-in-the-snow-" + id + ".png").toList(), List.copyOf(entries.keySet()));
        for (String id : chosen) {
            byte[] stored = Files.readAllBytes(dataDir.resolve("images").resolve(id.substring(0, 2)).resolve(id + ".png"));
            assertArrayEquals(stored, entries.get("a-red-fox-in-the-snow-" + id + ".png"), id);
        }
        assertEquals(dataFilesBefore, files(dataDir), "the data directory holds the same files");
        assertEquals(Set.of(), newArchivesOrImages(tempBefore), "no zip or PNG was staged in the temp directory");

        List<String> withUnknown = List.of(chosen.get(0), "aaaaaaaaaaaaaaaaaaaa");
        HttpResponse<byte[]> unknown = zip("{\"ids\":" + idsJson(withUnknown) + "}");
        assertEquals(404, unknown.statusCode());
        assertTrue(new String(unknown.body()).contains("\"field\":\"ids\""), new String(unknown.body()));
        assertEquals(400, zip("{\"ids\":[]}").statusCode());
        assertEquals(400, zip("{}").statusCode());
        assertEquals(400, zip("not json").statusCode());
    }

    @Test
    void zipOfManyImagesStreamsInChunks() throws Exception {
        // well over one 64 KiB chunk: the response is streamed while the zip is written
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            many.addAll(images("many " + i, 8, ",\"width\":128,\"height\":64"));
        }
        HttpResponse<byte[]> response = zip("{\"ids\":" + idsJson(many) + "}");
        assertEquals(200, response.statusCode());
        assertEquals("chunked", response.headers().firstValue("Transfer-Encoding").orElse(""));
        assertTrue(response.body().length > 2 * ResponseOutputStream.CHUNK, "several chunks: " + response.body().length + " bytes");
        int count = 0;
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(response.body()))) {
            for (ZipEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                String id = many.get(count++);
                assertTrue(entry.getName().endsWith("-" + id + ".png"), entry.getName());
                assertArrayEquals(server.getBytes("/api/v1/images/" + id).body(), in.readAllBytes());
            }
        }
        assertEquals(many.size(), count);
    }

    @Test
    void sortOldestFirstAndSizeFiltersPageThroughEverything() throws Exception {
        List<String> wide = images("sorted wide", 3, ",\"width\":128,\"height\":64");
        List<String> square = images("sorted square", 2, ",\"width\":64,\"height\":64");
        List<String> newest = ids("q=sorted");
        List<String> oldest = ids("q=sorted&sort=oldest");
        assertEquals(5, newest.size());
        List<String> reversed = new ArrayList<>(newest);
        java.util.Collections.reverse(reversed);
        assertEquals(reversed, oldest);
        assertEquals(ids("q=sorted&sort=newest"), newest);

        // pages of 2, oldest first, with their own cursors
        List<String> paged = new ArrayList<>();
        String cursor = null;
        do {
            JsonNode page = json(server.get("/api/v1/images?q=sorted&sort=oldest&limit=2" + (cursor == null ? "" : "&cursor=" + cursor)));
            page.get("items").forEach(item -> paged.add(item.get("id").asText()));
            cursor = page.get("next_cursor").isNull() ? null : page.get("next_cursor").asText();
            if (cursor != null) {
                assertError(server.get("/api/v1/images?q=sorted&limit=2&cursor=" + cursor), 400, "invalid_value", "cursor");
            }
        } while (cursor != null);
        assertEquals(oldest, paged);

        assertEquals(Set.copyOf(wide), Set.copyOf(ids("q=sorted&width=128&height=64")));
        assertEquals(Set.copyOf(square), Set.copyOf(ids("q=sorted&width=64")));
        assertEquals(List.of(), ids("q=sorted&height=128"));
        JsonNode sizes = json(server.get("/api/v1/images/sizes")).get("items");
        Set<String> listed = new HashSet<>();
        sizes.forEach(size -> listed.add(size.get("width").asInt() + "x" + size.get("height").asInt()));
        assertTrue(listed.containsAll(Set.of("128x64", "64x64")), sizes.toString());
        assertTrue(sizes.get(0).get("count").asLong() >= sizes.get(sizes.size() - 1).get("count").asLong(), "the most common first");

        assertError(server.get("/api/v1/images?sort=random"), 400, "invalid_value", "sort");
        assertError(server.get("/api/v1/images?width=0"), 400, "invalid_value", "width");
        assertError(server.get("/api/v1/images?height=abc"), 400, "invalid_value", "height");
        assertError(server.get("/api/v1/images?width=99999999999"), 400, "invalid_value", "width");
    }

    /** The paths of the files under {@code dir}, relative to it. */
    private static Set<String> files(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString()).collect(java.util.stream.Collectors.toSet());
        }
    }

    private static Set<Path> tempFiles() throws IOException {
        try (Stream<Path> list = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return list.collect(java.util.stream.Collectors.toSet());
        }
    }

    /**
     * Files new in the temp directory since {@code before} that start as a zip or a PNG does (the
     * temp directory is shared with other programs, whose files are none of this test's business).
     */
    private static Set<Path> newArchivesOrImages(Set<Path> before) throws IOException {
        Set<Path> found = new HashSet<>();
        for (Path file : tempFiles()) {
            if (!before.contains(file) && Files.isRegularFile(file) && Files.isReadable(file)) {
                byte[] head = new byte[4];
                try (var in = Files.newInputStream(file)) {
                    int n = in.readNBytes(head, 0, 4);
                    boolean zip = n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
                    boolean png = n == 4 && (head[0] & 0xff) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G';
                    if (zip || png) {
                        found.add(file);
                    }
                } catch (IOException e) {
                    // gone meanwhile, or not ours to read
                }
            }
        }
        return found;
    }
}
