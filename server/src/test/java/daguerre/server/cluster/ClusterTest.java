package daguerre.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.testing.PostgresServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster on real parts: a PostgreSQL server and three JVMs on loopback (one api node, two
 * workers on the tiny model), joined by Hazelcast. Skipped, saying so, only where PostgreSQL's
 * binaries are not installed (CI installs Debian's {@code postgresql}).
 */
class ClusterTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JOB = "{\"prompt\":\"a cat\",\"steps\":%d,\"width\":64,\"height\":64,\"sampler\":\"euler\",\"seed\":%d}";
    private static PostgresServer postgres;

    @TempDir
    Path temp;

    private final List<ClusterNodeProcess> nodes = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Thread> streams = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void startPostgres() throws Exception {
        Assumptions.assumeTrue(PostgresServer.binaries().isPresent(),
                "PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb): the cluster tests need Debian's postgresql package,"
                        + " which .ci/run installs");
        postgres = PostgresServer.start();
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (postgres != null) {
            postgres.close();
        }
    }

    @AfterEach
    void stopNodes(org.junit.jupiter.api.TestInfo test) throws Exception {
        for (ClusterNodeProcess node : nodes) {
            node.close();
        }
        streams.forEach(Thread::interrupt);
        // the nodes' logs, kept for reading after the run
        Path logs = Files.createDirectories(Path.of("target", "cluster-test-logs", test.getTestMethod().orElseThrow().getName()));
        for (ClusterNodeProcess node : nodes) {
            if (Files.exists(node.log)) {
                Files.copy(node.log, logs.resolve(node.log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    @Test
    void thirtyJobsSucceedOnceThroughAWorkerKillAndACancelReachesTheWorker() throws Exception {
        String database = postgres.createDatabase("crash");
        Path model = TinyModelFolder.create(temp, "tiny");
        Path images = Files.createDirectories(temp.resolve("shared-images"));
        int[] hz = {PostgresServer.freePort(), PostgresServer.freePort(), PostgresServer.freePort()};
        int apiPort = PostgresServer.freePort();
        ClusterNodeProcess w1 = worker("worker1", database, images, model, hz, 1);
        ClusterNodeProcess w2 = worker("worker2", database, images, model, hz, 2);
        ClusterNodeProcess api = api("api", database, images, hz, apiPort);
        for (ClusterNodeProcess node : List.of(w1, w2, api)) {
            node.awaitStarted(180);
        }
        awaitLiveWorkers(apiPort, 2);

        Map<String, Set<String>> progressWorkers = new ConcurrentHashMap<>();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            String id = submit(apiPort, String.format(JOB, 6, 100 + i));
            ids.add(id);
            listen(apiPort, id, progressWorkers);
        }
        // kill worker 1 while it runs a job: one whose latest progress event, from worker 1, is early in its 6 steps
        String killedJob = awaitEarlyProgressOn(w1.nodeId(), 120);
        w1.kill();
        long killedAt = System.nanoTime();

        Map<String, JsonNode> done = new HashMap<>();
        for (String id : ids) {
            done.put(id, awaitStatus(apiPort, id, "succeeded", 240));
        }
        System.out.printf("30 jobs done %.1f s after the kill%n", (System.nanoTime() - killedAt) / 1e9);
        JsonNode killed = done.get(killedJob);
        assertEquals(w2.nodeId(), killed.get("worker").asText(), "the killed worker's job finished on the other worker: " + killed);
        assertTrue(killed.get("requeued").asInt() >= 1, killed.toString());

        // each job exactly once: one gallery row per image, one file per row, no other PNG
        try (Connection c = DriverManager.getConnection(database, PostgresServer.USER, ""); Statement s = c.createStatement()) {
            Map<String, Integer> rowsPerJob = new HashMap<>();
            try (ResultSet rows = s.executeQuery("SELECT job_id, COUNT(*) FROM images GROUP BY job_id")) {
                while (rows.next()) {
                    rowsPerJob.put(rows.getString(1), rows.getInt(2));
                }
            }
            assertEquals(new HashSet<>(ids), rowsPerJob.keySet());
            rowsPerJob.forEach((job, count) -> assertEquals(1, count, "gallery rows of job " + job));
            try (ResultSet rows = s.executeQuery("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")) {
                rows.next();
                assertEquals(30, rows.getInt(1));
            }
        }
        List<Path> pngs;
        try (Stream<Path> files = Files.walk(images)) {
            pngs = files.filter(f -> f.getFileName().toString().endsWith(".png") && !f.getFileName().toString().startsWith("."))
                    .toList();
        }
        assertEquals(30, pngs.size(), "one PNG per job: " + pngs);
        for (String id : ids) {
            assertEquals(200, client.send(HttpRequest.newBuilder(uri(apiPort, "/api/v1/images/" + done.get(id).get("images").get(0)
                    .asText())).build(), HttpResponse.BodyHandlers.discarding()).statusCode());
        }

        Set<String> seen = new HashSet<>();
        progressWorkers.values().forEach(seen::addAll);
        assertEquals(Set.of(w1.nodeId(), w2.nodeId()), seen, "SSE clients on the api node saw progress from both workers");

        // a cancel sent to the api node stops a job running on the surviving worker
        String longJob = submit(apiPort, String.format(JOB, 150, 7));
        awaitStatus(apiPort, longJob, "running", 60);
        awaitStep(apiPort, longJob, 1, 60);
        HttpResponse<String> cancel = post(apiPort, "/api/v1/jobs/" + longJob + "/cancel", "");
        assertEquals(202, cancel.statusCode(), cancel.body());
        JsonNode cancelled = awaitStatus(apiPort, longJob, "cancelled", 60);
        assertEquals(w2.nodeId(), cancelled.get("worker").asText());
        assertTrue(cancelled.at("/progress/step").asInt() < 150, "it stopped before its end: " + cancelled);
        assertTrue(cancelled.get("images").isEmpty());

        JsonNode cluster = json(get(apiPort, "/api/v1/cluster"));
        assertEquals(2, cluster.get("nodes").size(), "api and the surviving worker are live, the killed one is gone: " + cluster);
    }

    @Test
    void theApiNodeRestartsWhileWorkersKeepRunning() throws Exception {
        String database = postgres.createDatabase("restart");
        Path model = TinyModelFolder.create(temp, "tiny");
        Path images = Files.createDirectories(temp.resolve("shared-images"));
        int[] hz = {PostgresServer.freePort(), PostgresServer.freePort(), PostgresServer.freePort()};
        int apiPort = PostgresServer.freePort();
        ClusterNodeProcess w1 = worker("worker1", database, images, model, hz, 1);
        ClusterNodeProcess api = api("api", database, images, hz, apiPort);
        w1.awaitStarted(180);
        api.awaitStarted(180);
        awaitLiveWorkers(apiPort, 1);

        List<String> before = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            before.add(submit(apiPort, String.format(JOB, 8, 200 + i)));
        }
        awaitRunningOn(apiPort, before, w1.nodeId(), 120);
        assertEquals(143, api.stop(), "the api node stops on SIGTERM (128 + 15, after its shutdown hook)");
        // the worker keeps working with no api node in the cluster
        ClusterNodeProcess api2 = api("api-restarted", database, images, hz, apiPort);
        api2.awaitStarted(180);
        awaitLiveWorkers(apiPort, 1);
        List<String> frames = new CopyOnWriteArrayList<>();
        java.net.http.WebSocket socket = client.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + apiPort + "/api/v1/ws"),
                new java.net.http.WebSocket.Listener() {
                    @Override
                    public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket ws, CharSequence data, boolean last) {
                        frames.add(data.toString());
                        ws.request(1);
                        return null;
                    }
                }).get(30, TimeUnit.SECONDS);
        Map<String, Set<String>> progressWorkers = new ConcurrentHashMap<>();
        String after = submit(apiPort, String.format(JOB, 8, 300));
        listen(apiPort, after, progressWorkers);
        for (String id : before) {
            JsonNode job = awaitStatus(apiPort, id, "succeeded", 240);
            assertEquals(0, job.get("requeued").asInt(), "no job was lost with the api node: " + job);
            assertEquals(w1.nodeId(), job.get("worker").asText());
        }
        awaitStatus(apiPort, after, "succeeded", 120);
        assertTrue(w1.alive());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (progressWorkers.getOrDefault(after, Set.of()).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(Set.of(w1.nodeId()), progressWorkers.get(after), "the restarted api node relays the worker's progress");
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (frames.stream().noneMatch(f -> f.contains(after) && f.contains("\"succeeded\"")) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(frames.stream().anyMatch(f -> f.contains(after) && f.contains("\"progress\"") && f.contains(w1.nodeId())),
                "the WebSocket relays the worker's progress: " + frames.size() + " frames");
        assertTrue(frames.stream().anyMatch(f -> f.contains(after) && f.contains("\"succeeded\"")), "and the job's end");
        socket.abort();

        // a job for a registered model that no live worker serves waits, and says so; a cancel ends it at once
        try (Connection c = DriverManager.getConnection(database, PostgresServer.USER, ""); Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO models SELECT 'ghost', replace(descriptor, '\"id\":\"tiny\"', '\"id\":\"ghost\"'), updated_at"
                    + " FROM models WHERE id = 'tiny'");
        }
        String ghost = submit(apiPort, "{\"prompt\":\"a cat\",\"steps\":2,\"width\":64,\"height\":64,\"model\":\"ghost\"}");
        Thread.sleep(1500);
        JsonNode waiting = json(get(apiPort, "/api/v1/jobs/" + ghost));
        assertEquals("queued", waiting.get("status").asText(), waiting.toString());
        assertTrue(waiting.path("waiting_for").asText().contains("no live worker serves model ghost"), waiting.toString());
        HttpResponse<String> cancelQueued = post(apiPort, "/api/v1/jobs/" + ghost + "/cancel", "");
        assertEquals(200, cancelQueued.statusCode(), cancelQueued.body());
        assertEquals("cancelled", json(get(apiPort, "/api/v1/jobs/" + ghost)).get("status").asText());

        // PostgreSQL restarts under a running job: every job still ends succeeded, once
        List<String> during = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            during.add(submit(apiPort, String.format(JOB, 8, 400 + i)));
        }
        awaitRunningOn(apiPort, during, w1.nodeId(), 120);
        postgres.restart();
        for (String id : during) {
            awaitStatus(apiPort, id, "succeeded", 240);
        }
        try (Connection c = DriverManager.getConnection(database, PostgresServer.USER, ""); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery("SELECT COUNT(*), COUNT(DISTINCT job_id) FROM images")) {
            rows.next();
            assertEquals(before.size() + 1 + during.size(), rows.getInt(1), "one gallery row per job");
            assertEquals(rows.getInt(1), rows.getInt(2));
        }
    }

    @Test
    void theApiNodeServesTheA1111OpenAiAndGalleryRoutesAndAFrozenWorkersLateResultIsDiscarded() throws Exception {
        String database = postgres.createDatabase("apis");
        Path model = TinyModelFolder.create(temp, "tiny");
        Path images = Files.createDirectories(temp.resolve("shared-images"));
        int[] hz = {PostgresServer.freePort(), PostgresServer.freePort(), PostgresServer.freePort()};
        int apiPort = PostgresServer.freePort();
        List<String> shortLease = List.of("--lease-seconds", "3");
        ClusterNodeProcess w1 = worker("worker1", database, images, model, hz, 1, shortLease);
        ClusterNodeProcess w2 = worker("worker2", database, images, model, hz, 2, shortLease);
        ClusterNodeProcess api = api("api", database, images, hz, apiPort, List.of("--max-steps", "5000"));
        for (ClusterNodeProcess node : List.of(w1, w2, api)) {
            node.awaitStarted(180);
        }
        awaitLiveWorkers(apiPort, 2);

        // A1111: options every api node shares, a txt2img whose images are not saved (they come back through PostgreSQL)
        int clipSkip = JSON.readTree(model.resolve("text_encoder/config.json").toFile()).get("num_hidden_layers").asInt();
        assertEquals(200, post(apiPort, "/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":" + clipSkip + "}").statusCode());
        assertEquals(clipSkip, json(get(apiPort, "/sdapi/v1/options")).get("CLIP_stop_at_last_layers").asInt());
        assertTrue(get(apiPort, "/sdapi/v1/sd-models").body().contains("\"tiny\""));
        HttpResponse<String> txt2img = post(apiPort, "/sdapi/v1/txt2img",
                "{\"prompt\":\"a red cat\",\"steps\":4,\"width\":64,\"height\":64,\"sampler_name\":\"Euler\",\"seed\":5,\"n_iter\":2}");
        assertEquals(200, txt2img.statusCode(), txt2img.body());
        JsonNode a1111 = json(txt2img);
        assertEquals(2, a1111.get("images").size(), "one image per n_iter batch");
        assertPng(a1111.get("images").get(0).asText());
        JsonNode info = JSON.readTree(a1111.get("info").asText());
        assertEquals(List.of(5L, 6L), List.of(info.get("all_seeds").get(0).asLong(), info.get("all_seeds").get(1).asLong()));
        assertEquals(clipSkip, info.get("clip_skip").asInt(), "the shared option applied: " + info);
        assertEquals(0, json(get(apiPort, "/api/v1/images")).get("items").size(), "save_images false leaves the gallery alone");
        assertEquals(0, count(database, "SELECT COUNT(*) FROM job_results"), "the kept images were handed out once and deleted");
        assertEquals(422, post(apiPort, "/sdapi/v1/txt2img", "{\"steps\":\"many\"}").statusCode(), "A1111's error status");
        assertEquals(200, get(apiPort, "/sdapi/v1/progress").statusCode());

        // OpenAI: the image comes back and is in the gallery
        HttpResponse<String> openAi = post(apiPort, "/v1/images/generations",
                "{\"prompt\":\"a blue dog\",\"size\":\"64x64\",\"steps\":4,\"seed\":9}");
        assertEquals(200, openAi.statusCode(), openAi.body());
        assertPng(json(openAi).at("/data/0/b64_json").asText());

        // the gallery: search, thumbnail, metadata, favourite, delete
        JsonNode found = json(get(apiPort, "/api/v1/images?q=dog"));
        assertEquals(1, found.get("items").size(), found.toString());
        String image = found.at("/items/0/id").asText();
        assertEquals(0, json(get(apiPort, "/api/v1/images?q=horse")).get("items").size());
        HttpResponse<byte[]> thumbnail = client.send(HttpRequest.newBuilder(uri(apiPort, "/api/v1/images/" + image + "/thumbnail")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, thumbnail.statusCode());
        assertEquals("image/png", thumbnail.headers().firstValue("Content-Type").orElse(""));
        assertTrue(json(get(apiPort, "/api/v1/images/" + image + "/metadata")).at("/png_text/daguerre").asText().contains("a blue dog"));
        HttpResponse<String> favourite = client.send(HttpRequest.newBuilder(uri(apiPort, "/api/v1/images/" + image))
                .header("Content-Type", "application/json").method("PATCH", HttpRequest.BodyPublishers.ofString("{\"favorite\":true}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, favourite.statusCode(), favourite.body());
        assertEquals(image, json(get(apiPort, "/api/v1/images?favorite=true")).at("/items/0/id").asText());
        assertEquals(0, json(get(apiPort, "/api/v1/images?favorite=false")).get("items").size());
        HttpResponse<String> deleted = client.send(HttpRequest.newBuilder(uri(apiPort, "/api/v1/images/" + image)).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(204, deleted.statusCode(), deleted.body());
        assertEquals(404, get(apiPort, "/api/v1/images/" + image).statusCode());
        assertEquals(0, count(database, "SELECT COUNT(*) FROM images"));
        try (Stream<Path> files = Files.walk(images)) {
            assertEquals(List.of(), files.filter(f -> f.toString().endsWith(".png")).toList(), "the file and its thumbnail are gone");
        }
        // a batch on the api node: its line is an ordinary job of the shared queue, run by a worker (ClusterApiTest covers the rest)
        HttpResponse<String> batch = post(apiPort, "/api/v1/batches", "--prompt \"a cat\" --steps 2 --width 64 --height 64\n");
        assertEquals(202, batch.statusCode(), batch.body());
        String batchJob = json(batch).at("/lines/0/job_id").asText();
        awaitStatus(apiPort, batchJob, "succeeded", 120);
        assertEquals("done", json(get(apiPort, "/api/v1/batches/" + json(batch).get("id").asText())).get("state").asText());

        // ETAs: both workers busy with long jobs (about 5 s of steps at the speed the workers measured), a third job waits
        double msPerStep = 0;
        for (JsonNode node : json(get(apiPort, "/api/v1/cluster")).get("nodes")) {
            msPerStep = Math.max(msPerStep, node.path("ms_per_unit").asDouble() * 64 * 64 / (512 * 512));
        }
        assertTrue(msPerStep > 0, "the workers' heartbeats carry their measured speed");
        int longSteps = (int) Math.max(100, Math.min(5000, 5_000 / msPerStep));
        String long1 = submit(apiPort, String.format(JOB, longSteps, 11));
        String long2 = submit(apiPort, String.format(JOB, longSteps, 12));
        awaitStatus(apiPort, long1, "running", 60);
        awaitStatus(apiPort, long2, "running", 60);
        String waiting = submit(apiPort, String.format(JOB, 4, 13));
        JsonNode queued = json(get(apiPort, "/api/v1/jobs/" + waiting));
        assertEquals("queued", queued.get("status").asText(), queued.toString());
        assertTrue(queued.get("eta_ms").isNumber() && queued.get("eta_ms").asLong() > 0, "a queued job's ETA: " + queued);
        awaitStep(apiPort, long1, 2, 60);
        JsonNode running = json(get(apiPort, "/api/v1/jobs/" + long1));
        assertTrue(running.get("eta_ms").isNumber(), "a running job's ETA: " + running);
        assertEquals(202, post(apiPort, "/api/v1/jobs/" + long2 + "/cancel", "").statusCode());
        awaitStatus(apiPort, waiting, "succeeded", 120);

        // a partition: the worker running long1 is frozen past its lease; the other completes the job, the late result is dropped
        awaitStep(apiPort, long1, 3, 60);
        ClusterNodeProcess frozen = json(get(apiPort, "/api/v1/jobs/" + long1)).get("worker").asText().equals(w1.nodeId()) ? w1 : w2;
        ClusterNodeProcess other = frozen == w1 ? w2 : w1;
        frozen.freeze();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            JsonNode moved = null;
            while (System.nanoTime() < deadline) {
                moved = json(get(apiPort, "/api/v1/jobs/" + long1));
                if (moved.get("status").asText().equals("running") && other.nodeId().equals(moved.path("worker").asText())) {
                    break;
                }
                Thread.sleep(50);
            }
            assertEquals(other.nodeId(), moved.path("worker").asText(), "the job went back to the queue and to the other worker: " + moved);
        } finally {
            frozen.resume();
        }
        JsonNode done = awaitStatus(apiPort, long1, "succeeded", 240);
        assertEquals(other.nodeId(), done.get("worker").asText());
        assertTrue(done.get("requeued").asInt() >= 1, done.toString());
        awaitLog(frozen, "job " + long1 + ": this worker lost its lease", 60);
        assertEquals(1, count(database, "SELECT COUNT(*) FROM images WHERE job_id = '" + long1 + "'"), "completed exactly once");
        assertEquals(1, count(database, "SELECT COUNT(*) FROM images WHERE job_id = '" + long1 + "' AND worker = '" + other.nodeId() + "'"));
        try (Stream<Path> files = Files.walk(images)) {
            assertEquals(1, files.filter(f -> f.getFileName().toString().startsWith(done.at("/images/0").asText())).count(),
                    "one PNG for the job, no staging file of the frozen worker left");
        }
    }

    private ClusterNodeProcess worker(String name, String database, Path images, Path model, int[] hz, int index) throws Exception {
        return worker(name, database, images, model, hz, index, List.of());
    }

    private ClusterNodeProcess worker(String name, String database, Path images, Path model, int[] hz, int index, List<String> extra)
            throws Exception {
        List<String> args = new ArrayList<>(common(database, images, hz, index));
        args.addAll(List.of("--role", "worker", "--model", model.toString(), "--port", "0", "--concurrent-jobs", "1",
                "--data", temp.resolve(name).toString(), "--preview-every", "2"));
        args.addAll(extra);
        ClusterNodeProcess node = ClusterNodeProcess.start(name, temp, args);
        nodes.add(node);
        return node;
    }

    private ClusterNodeProcess api(String name, String database, Path images, int[] hz, int port) throws Exception {
        return api(name, database, images, hz, port, List.of());
    }

    private ClusterNodeProcess api(String name, String database, Path images, int[] hz, int port, List<String> extra) throws Exception {
        List<String> args = new ArrayList<>(common(database, images, hz, 0));
        args.addAll(List.of("--role", "api", "--port", Integer.toString(port), "--data", temp.resolve(name).toString()));
        args.addAll(extra);
        ClusterNodeProcess node = ClusterNodeProcess.start(name, temp, args);
        nodes.add(node);
        return node;
    }

    private static List<String> common(String database, Path images, int[] hz, int index) {
        List<String> members = new ArrayList<>();
        for (int i = 0; i < hz.length; i++) {
            if (i != index) {
                members.add("127.0.0.1:" + hz[i]);
            }
        }
        return List.of("--cluster", "--cluster-host", "127.0.0.1", "--cluster-port", Integer.toString(hz[index]),
                "--cluster-members", String.join(",", members), "--cluster-name", "test-" + hz[0], "--database", database,
                "--database-user", PostgresServer.USER, "--images", images.toString(), "--host", "127.0.0.1");
    }

    private void awaitLiveWorkers(int port, int workers) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        JsonNode cluster = null;
        while (System.nanoTime() < deadline) {
            try {
                cluster = json(get(port, "/api/v1/cluster"));
                int live = 0;
                for (JsonNode node : cluster.get("nodes")) {
                    if (node.get("role").asText().equals("worker") && node.get("models").toString().contains("tiny")) {
                        live++;
                    }
                }
                if (live == workers) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("expected " + workers + " live workers: " + cluster);
    }

    private String awaitRunningOn(int port, List<String> ids, String worker, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            for (JsonNode job : json(get(port, "/api/v1/jobs")).get("items")) {
                if (job.get("status").asText().equals("running") && worker.equals(job.path("worker").asText())) {
                    return job.get("id").asText();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no job ran on " + worker);
    }

    /** The latest progress event of each job seen on the SSE streams: its worker and step. */
    private final Map<String, JsonNode> latestProgress = new ConcurrentHashMap<>();

    private String awaitEarlyProgressOn(String worker, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            for (Map.Entry<String, JsonNode> e : latestProgress.entrySet()) {
                JsonNode data = e.getValue();
                if (worker.equals(data.path("worker").asText()) && data.path("step").asInt() >= 1 && data.path("step").asInt() <= 3) {
                    return e.getKey();
                }
            }
            Thread.sleep(2);
        }
        throw new AssertionError("no job ran on " + worker);
    }

    /** Follows one job's SSE stream on the api node and notes the workers of its progress events. */
    private void listen(int port, String id, Map<String, Set<String>> workers) {
        Thread thread = new Thread(() -> {
            try {
                HttpResponse<Stream<String>> response = client.send(HttpRequest.newBuilder(uri(port, "/api/v1/jobs/" + id + "/events"))
                        .build(), HttpResponse.BodyHandlers.ofLines());
                String event = null;
                for (String line : (Iterable<String>) response.body()::iterator) {
                    if (line.startsWith("event: ")) {
                        event = line.substring(7);
                    } else if (line.startsWith("data: ") && "progress".equals(event)) {
                        JsonNode data = JSON.readTree(line.substring(6));
                        if (data.hasNonNull("worker")) {
                            workers.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet()).add(data.get("worker").asText());
                            latestProgress.put(id, data);
                        }
                    } else if (line.startsWith("data: ")) {
                        latestProgress.remove(id);
                    }
                }
            } catch (Exception e) {
                // the stream ends with the job, or the test
            }
        }, "sse-" + id);
        thread.setDaemon(true);
        thread.start();
        streams.add(thread);
    }

    private JsonNode awaitStatus(int port, String id, String status, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        JsonNode job = null;
        while (System.nanoTime() < deadline) {
            job = json(get(port, "/api/v1/jobs/" + id));
            if (job.get("status").asText().equals(status)) {
                return job;
            }
            assertNotEquals("failed", job.get("status").asText(), job.toString());
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not become " + status + ": " + job);
    }

    private void awaitStep(int port, String id, int step, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (json(get(port, "/api/v1/jobs/" + id)).at("/progress/step").asInt() >= step) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not reach step " + step);
    }

    private static void assertPng(String base64) {
        byte[] png = java.util.Base64.getDecoder().decode(base64);
        assertTrue(png.length > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "a PNG");
    }

    private static int count(String database, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(database, PostgresServer.USER, ""); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery(sql)) {
            rows.next();
            return rows.getInt(1);
        }
    }

    private static void awaitLog(ClusterNodeProcess node, String text, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (Files.readString(node.log).contains(text)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(node.name + " never logged '" + text + "'");
    }

    private String submit(int port, String body) throws Exception {
        HttpResponse<String> response = post(port, "/api/v1/generations", body);
        assertEquals(202, response.statusCode(), response.body());
        return json(response).get("id").asText();
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(int port, String path, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body());
    }
}
