package daguerre.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.server.config.ServeConfig;
import daguerre.server.http.ClusterServer;
import daguerre.server.jobs.EmbeddingDescriptor;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.PostgresServer;
import daguerre.server.testing.TestModelCards;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a cluster's api node offers beyond jobs, as a single machine does: batches, boards, bulk
 * gallery changes in one transaction, model-card warnings and the embeddings list. One real
 * PostgreSQL and, in this JVM, two api nodes and a worker on the {@link GradientTestEngine} test
 * double, joined by Hazelcast on loopback (much faster than {@link ClusterTest}'s JVMs on the
 * tiny model). Skipped, saying so, only where PostgreSQL's binaries are not installed.
 */
class ClusterApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HEARTS = "red heart, twemoji style, on a blue background";

    @TempDir
    static Path temp;

    private static PostgresServer postgres;
    private static String database;
    private static Path images;
    private static int[] hazelcast;
    private static ClusterServer worker;
    private static ClusterServer apiA;
    private static ClusterServer apiB;
    private static final EmbeddingsEngine ENGINE = new EmbeddingsEngine();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * The test double with embeddings: what a worker's engine lists for model {@code tiny} (its embeddings
     * folder as the one process's engine reads it); the other models have none.
     */
    static final class EmbeddingsEngine implements ImageEngine {
        final GradientTestEngine gradient = new GradientTestEngine(5);
        volatile List<EmbeddingDescriptor> tinyEmbeddings = List.of(
                new EmbeddingDescriptor("fits-tiny", "/embeddings/fits-tiny.safetensors", 2, 32, null),
                new EmbeddingDescriptor("xl-only", "/embeddings/xl-only.safetensors", 1, 1280,
                        "an SDXL embedding (clip_l, clip_g); this model has one text encoder"));

        @Override
        public List<ModelDescriptor> models() {
            return gradient.models();
        }

        @Override
        public String defaultModelId() {
            return gradient.defaultModelId();
        }

        @Override
        public List<SamplerDescriptor> samplers() {
            return gradient.samplers();
        }

        @Override
        public List<EmbeddingDescriptor> embeddings(String modelId) {
            return modelId.equals("tiny") ? tinyEmbeddings : List.of();
        }

        @Override
        public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) throws Exception {
            return gradient.generate(params, listener, cancelled);
        }

        @Override
        public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled,
                BooleanSupplier finishEarly) throws Exception {
            return gradient.generate(params, listener, cancelled, finishEarly);
        }
    }

    @BeforeAll
    static void startCluster() throws Exception {
        Assumptions.assumeTrue(PostgresServer.binaries().isPresent(),
                "PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb): the cluster tests need Debian's postgresql package,"
                        + " which .ci/run installs");
        postgres = PostgresServer.start();
        database = postgres.createDatabase("api");
        images = Files.createDirectories(temp.resolve("shared-images"));
        hazelcast = new int[] {PostgresServer.freePort(), PostgresServer.freePort(), PostgresServer.freePort(), PostgresServer.freePort()};
        worker = node(ClusterOptions.Role.WORKER, 0, "worker");
        apiA = node(ClusterOptions.Role.API, 1, "apiA");
        apiB = node(ClusterOptions.Role.API, 2, "apiB");
        awaitServed(apiA);
        awaitServed(apiB);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        for (ClusterServer node : new ClusterServer[] {apiA, apiB, worker}) {
            if (node != null) {
                node.close();
            }
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    @AfterEach
    void releaseTheWorker() {
        ENGINE.gradient.release();
    }

    /** A node of the cluster in this JVM, Hazelcast on the {@code index}th port, HTTP on a free port. */
    private static ClusterServer node(ClusterOptions.Role role, int index, String name) throws Exception {
        List<String> members = new ArrayList<>();
        for (int i = 0; i < hazelcast.length; i++) {
            if (i != index) {
                members.add("127.0.0.1:" + hazelcast[i]);
            }
        }
        ClusterOptions options = new ClusterOptions(role, true, "127.0.0.1", hazelcast[index], members, "api-test-" + hazelcast[0],
                database, PostgresServer.USER, null, images, ClusterOptions.DEFAULT_LEASE_SECONDS);
        ServeConfig config = ServeConfig.defaults().withPort(0).withDataDir(temp.resolve(name)).withMinFreeDiskBytes(0)
                .withMaxBodyBytes(1 << 20);
        return ClusterServer.start(config, options, c -> ENGINE);
    }

    /** Waits until the api node sees the worker serve model tiny. */
    private static void awaitServed(ClusterServer api) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            HttpResponse<String> models = http.send(HttpRequest.newBuilder(uri(api, "/api/v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString());
            for (JsonNode model : JSON.readTree(models.body()).path("items")) {
                if (model.path("id").asText().equals("tiny") && model.path("served").asBoolean()) {
                    return;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the api node never saw a worker serve model tiny");
    }

    /**
     * A batch submitted to one api node is answered for by the other and, after a restart, by a new
     * api node; its lines are jobs the worker runs, and a cancel sent to another api node than the one
     * that took the batch stops its queued lines and the line the worker runs.
     */
    @Test
    void aBatchLivesInPostgresAndAnyApiNodeAnswersAndCancelsIt() throws Exception {
        ENGINE.gradient.hold();
        String file = "--prompt \"" + HEARTS + "\" --steps 3 --seed 1\n--prompt two --steps zero\nthird line\nfourth line\n";
        HttpResponse<String> accepted = send(apiA, "POST", "/api/v1/batches?name=hearts.txt", file, "text/plain");
        assertEquals(202, accepted.statusCode(), accepted.body());
        JsonNode created = JSON.readTree(accepted.body());
        String id = created.get("id").asText();
        assertEquals(4, created.get("total").asInt(), created.toString());
        assertEquals("invalid", created.at("/lines/1/status").asText(), created.toString());
        assertEquals("steps", created.at("/lines/1/error/field").asText(), created.toString());

        // the other api node knows it, lists it, and sees the worker run its first line
        JsonNode running = await(apiB, "/api/v1/batches/" + id, b -> b.at("/counts/running").asInt() == 1, 30);
        assertEquals("hearts.txt", running.get("name").asText());
        assertEquals("running", running.get("state").asText(), running.toString());
        assertEquals(1, running.at("/counts/invalid").asInt());
        String firstJob = running.at("/lines/0/job_id").asText();
        assertEquals(worker.nodeId(), json(get(apiA, "/api/v1/jobs/" + firstJob)).get("worker").asText());
        Set<String> listed = new HashSet<>();
        json(get(apiB, "/api/v1/batches")).path("items").forEach(b -> listed.add(b.get("id").asText()));
        assertTrue(listed.contains(id), "the other api node lists the batch: " + listed);

        // cancelled through the other api node: the queued lines at once, the running one on the worker
        HttpResponse<String> cancel = send(apiB, "DELETE", "/api/v1/batches/" + id, null, null);
        assertEquals(202, cancel.statusCode(), "a running line is still stopping: " + cancel.body());
        JsonNode cancelled = await(apiA, "/api/v1/batches/" + id, b -> b.get("state").asText().equals("cancelled"), 30);
        assertEquals(3, cancelled.at("/counts/cancelled").asInt(), cancelled.toString());
        assertEquals("cancelled", json(get(apiB, "/api/v1/jobs/" + firstJob)).get("status").asText());

        // a new api node (as after a restart) still knows the batch
        ClusterServer restarted = node(ClusterOptions.Role.API, 3, "apiC");
        try {
            JsonNode again = json(get(restarted, "/api/v1/batches/" + id));
            assertEquals("cancelled", again.get("state").asText(), again.toString());
            assertEquals(created.at("/lines/2/job_id").asText(), again.at("/lines/2/job_id").asText());
            assertEquals("third line", again.at("/lines/2/prompt").asText());
        } finally {
            restarted.close();
        }

        // a batch that runs to its end: each line an ordinary job of the shared queue, with its image
        ENGINE.gradient.release();
        HttpResponse<String> second = send(apiB, "POST", "/api/v1/batches", "--prompt \"" + HEARTS + "\" --steps 2\nanother --steps 2\n",
                "text/plain");
        assertEquals(202, second.statusCode(), second.body());
        String secondId = JSON.readTree(second.body()).get("id").asText();
        JsonNode done = await(apiA, "/api/v1/batches/" + secondId, b -> b.get("state").asText().equals("done"), 60);
        assertEquals(2, done.at("/counts/succeeded").asInt(), done.toString());
        for (JsonNode line : done.get("lines")) {
            assertEquals(1, line.get("images").size(), line.toString());
            assertEquals(200, get(apiB, "/api/v1/images/" + line.at("/images/0").asText()).statusCode());
        }
        assertEquals(404, get(apiA, "/api/v1/batches/aaaaaaaaaaaaaaaaaaaa").statusCode());
    }

    /**
     * Boards on PostgreSQL, as on one machine: unique names regardless of case, moves, the board filter, renaming,
     * deleting; and a zip of images.
     */
    @Test
    void boardsWorkAcrossApiNodes() throws Exception {
        List<String> made = generate(apiA, 3);
        HttpResponse<String> board = send(apiA, "POST", "/api/v1/boards", "{\"name\":\"Hearts\"}", "application/json");
        assertEquals(201, board.statusCode(), board.body());
        String boardId = JSON.readTree(board.body()).get("id").asText();
        HttpResponse<String> taken = send(apiB, "POST", "/api/v1/boards", "{\"name\":\"hEARTS\"}", "application/json");
        assertEquals(409, taken.statusCode(), taken.body());
        assertEquals("board_exists", JSON.readTree(taken.body()).at("/error/code").asText());

        HttpResponse<String> moved = send(apiB, "POST", "/api/v1/images/bulk",
                "{\"action\":\"move\",\"board\":\"" + boardId + "\",\"ids\":[\"" + made.get(0) + "\",\"" + made.get(1) + "\"]}",
                "application/json");
        assertEquals(200, moved.statusCode(), moved.body());
        assertEquals(2, JSON.readTree(moved.body()).get("count").asInt());
        assertEquals(Set.of(made.get(0), made.get(1)), imageIds(apiA, "/api/v1/images?board=" + boardId));
        Set<String> unboarded = imageIds(apiA, "/api/v1/images?board=none&limit=200");
        assertTrue(unboarded.contains(made.get(2)) && !unboarded.contains(made.get(0)), unboarded.toString());
        JsonNode boards = json(get(apiB, "/api/v1/boards"));
        assertEquals(1, boards.get("items").size(), boards.toString());
        assertEquals(2, boards.at("/items/0/image_count").asInt(), boards.toString());
        assertEquals(boardId, json(get(apiB, "/api/v1/images/" + made.get(0) + "/metadata")).get("board").asText());

        HttpResponse<String> renamed = send(apiB, "PATCH", "/api/v1/boards/" + boardId, "{\"name\":\"Red hearts\"}", "application/json");
        assertEquals(200, renamed.statusCode(), renamed.body());
        assertEquals("Red hearts", json(get(apiA, "/api/v1/boards")).at("/items/0/name").asText());

        // deleting the board keeps its images, on no board
        assertEquals(204, send(apiA, "DELETE", "/api/v1/boards/" + boardId, null, null).statusCode());
        assertEquals(404, get(apiB, "/api/v1/images?board=" + boardId).statusCode());
        assertTrue(imageIds(apiB, "/api/v1/images?board=none&limit=200").containsAll(made));
        assertEquals(0, json(get(apiA, "/api/v1/boards")).get("items").size());

        // a zip of images, from the shared folder, byte for byte
        HttpResponse<byte[]> zip = client.send(HttpRequest.newBuilder(uri(apiB, "/api/v1/images/zip")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"ids\":[\"" + made.get(0) + "\",\"" + made.get(2) + "\"]}")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, zip.statusCode());
        List<String> entries = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip.body()))) {
            for (ZipEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                byte[] png = in.readAllBytes();
                String id = entry.getName().replaceAll("^.*-([a-z0-9]+)\\.png$", "$1");
                assertTrue(Arrays.equals(png, client.send(HttpRequest.newBuilder(uri(apiA, "/api/v1/images/" + id)).build(),
                        HttpResponse.BodyHandlers.ofByteArray()).body()), entry.getName());
                entries.add(id);
            }
        }
        assertEquals(List.of(made.get(0), made.get(2)), entries);
    }

    /**
     * A bulk favourite or delete is one transaction: when PostgreSQL refuses the change of its last image, none
     * of the images changed, no file is gone; once allowed, all change and the deleted images' files go.
     */
    @Test
    void aBulkChangeIsOneTransactionAndFilesGoOnlyAfterItCommits() throws Exception {
        List<String> made = generate(apiA, 3);
        String ids = "[\"" + String.join("\",\"", made) + "\"]";
        try (Connection c = DriverManager.getConnection(database, PostgresServer.USER, ""); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE refused_images (id TEXT PRIMARY KEY)");
            s.execute("CREATE FUNCTION refuse_image() RETURNS trigger AS $$ BEGIN"
                    + " IF EXISTS (SELECT 1 FROM refused_images WHERE id = OLD.id) THEN RAISE EXCEPTION 'refused by the test'; END IF;"
                    + " IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
            s.execute("CREATE TRIGGER refuse_image BEFORE UPDATE OR DELETE ON images FOR EACH ROW EXECUTE FUNCTION refuse_image()");
            s.execute("INSERT INTO refused_images VALUES ('" + made.get(2) + "')");
            try {
                HttpResponse<String> favorite = send(apiB, "POST", "/api/v1/images/bulk", "{\"action\":\"favorite\",\"ids\":" + ids + "}",
                        "application/json");
                assertEquals(500, favorite.statusCode(), favorite.body());
                for (String id : made) {
                    assertFalse(json(get(apiA, "/api/v1/images/" + id + "/metadata")).get("favorite").asBoolean(),
                            "image " + id + " changed although its transaction failed");
                }
                HttpResponse<String> delete = send(apiB, "POST", "/api/v1/images/bulk", "{\"action\":\"delete\",\"ids\":" + ids + "}",
                        "application/json");
                assertEquals(500, delete.statusCode(), delete.body());
                for (String id : made) {
                    assertEquals(200, get(apiA, "/api/v1/images/" + id).statusCode(), "image " + id + " is gone");
                    assertTrue(pngExists(id), "the file of image " + id + " is gone although its row stays");
                }
            } finally {
                s.execute("DROP TRIGGER refuse_image ON images");
            }
        }
        HttpResponse<String> favorite = send(apiB, "POST", "/api/v1/images/bulk", "{\"action\":\"favorite\",\"ids\":" + ids + "}",
                "application/json");
        assertEquals(3, JSON.readTree(favorite.body()).get("count").asInt(), favorite.body());
        assertTrue(imageIds(apiA, "/api/v1/images?favorite=true&limit=200").containsAll(made));
        HttpResponse<String> delete = send(apiA, "POST", "/api/v1/images/bulk", "{\"action\":\"delete\",\"ids\":" + ids + "}",
                "application/json");
        assertEquals(3, JSON.readTree(delete.body()).get("count").asInt(), delete.body());
        for (String id : made) {
            assertEquals(404, get(apiB, "/api/v1/images/" + id).statusCode());
            assertFalse(pngExists(id), "the file of deleted image " + id + " stays");
        }
    }

    /**
     * An api node warns about a prompt as the model's card does on one machine, shows the card's prompt form in
     * the models list, and lists the embeddings the worker's engine lists, again after they change.
     */
    @Test
    void cardWarningsAndEmbeddingsReachTheApiNodes() throws Exception {
        String prompt = "a purple cat, noto style, on a blue background";
        List<String> expected = TestModelCards.emoji("tiny").promptWarnings(prompt);
        assertFalse(expected.isEmpty(), "the test prompt must draw warnings from the card");
        HttpResponse<String> accepted = send(apiA, "POST", "/api/v1/generations",
                "{\"model\":\"tiny\",\"steps\":2,\"prompt\":\"" + prompt + "\"}", "application/json");
        assertEquals(202, accepted.statusCode(), accepted.body());
        List<String> warnings = new ArrayList<>();
        JSON.readTree(accepted.body()).get("warnings").forEach(w -> warnings.add(w.asText()));
        assertEquals(expected, warnings);

        JsonNode tiny = null;
        for (JsonNode model : json(get(apiB, "/api/v1/models")).get("items")) {
            if (model.get("id").asText().equals("tiny")) {
                tiny = model;
            }
        }
        assertNotNull(tiny);
        assertEquals(TestModelCards.GRAMMAR, tiny.at("/prompts/grammar").asText(), tiny.toString());
        assertEquals(TestModelCards.EXAMPLES, JSON.convertValue(tiny.at("/prompts/examples"), List.class));

        JsonNode embeddings = json(get(apiB, "/sdapi/v1/embeddings"));
        assertEquals(32, embeddings.at("/loaded/fits-tiny/shape").asInt(), embeddings.toString());
        assertEquals(2, embeddings.at("/loaded/fits-tiny/vectors").asInt(), embeddings.toString());
        assertTrue(embeddings.at("/skipped/xl-only/reason").asText().contains("SDXL"), embeddings.toString());

        // a file added to the worker's embeddings folder: the worker registers again, the api nodes list it
        List<EmbeddingDescriptor> more = new ArrayList<>(ENGINE.tinyEmbeddings);
        more.add(new EmbeddingDescriptor("added-later", "/embeddings/added-later.safetensors", 1, 32, null));
        ENGINE.tinyEmbeddings = List.copyOf(more);
        await(apiA, "/sdapi/v1/embeddings", e -> e.at("/loaded/added-later").isObject(), 30);
    }

    /** Runs {@code count} jobs of one image each through {@code api}; returns their image ids. */
    private List<String> generate(ClusterServer api, int count) throws Exception {
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            HttpResponse<String> accepted = send(api, "POST", "/api/v1/generations",
                    "{\"prompt\":\"" + HEARTS + "\",\"steps\":2,\"seed\":" + (1000 + i) + "}", "application/json");
            assertEquals(202, accepted.statusCode(), accepted.body());
            jobs.add(JSON.readTree(accepted.body()).get("id").asText());
        }
        List<String> made = new ArrayList<>();
        for (String job : jobs) {
            JsonNode done = await(api, "/api/v1/jobs/" + job, j -> j.get("status").asText().equals("succeeded"), 60);
            made.add(done.at("/images/0").asText());
        }
        return made;
    }

    private boolean pngExists(String id) throws Exception {
        try (Stream<Path> files = Files.walk(images)) {
            return files.anyMatch(f -> f.getFileName().toString().equals(id + ".png"));
        }
    }

    private Set<String> imageIds(ClusterServer api, String path) throws Exception {
        HttpResponse<String> response = get(api, path);
        assertEquals(200, response.statusCode(), response.body());
        Set<String> ids = new HashSet<>();
        JSON.readTree(response.body()).get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    /** Reads {@code path} until {@code done} holds (or fails after {@code seconds}); returns the last body. */
    private JsonNode await(ClusterServer api, String path, Predicate<JsonNode> done, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        JsonNode body = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> response = get(api, path);
            body = JSON.readTree(response.body());
            if (response.statusCode() == 200 && done.test(body)) {
                return body;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(path + " did not reach the expected state in " + seconds + " s: " + body);
    }

    private static URI uri(ClusterServer node, String path) {
        return URI.create("http://127.0.0.1:" + node.port() + path);
    }

    private HttpResponse<String> get(ClusterServer node, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(node, path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> response) throws Exception {
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    private HttpResponse<String> send(ClusterServer node, String method, String path, String body, String type) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(node, path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (type != null) {
            request.header("Content-Type", type);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
