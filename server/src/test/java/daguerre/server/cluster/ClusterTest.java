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

    private ClusterNodeProcess worker(String name, String database, Path images, Path model, int[] hz, int index) throws Exception {
        List<String> args = new ArrayList<>(common(database, images, hz, index));
        args.addAll(List.of("--role", "worker", "--model", model.toString(), "--port", "0", "--concurrent-jobs", "1",
                "--data", temp.resolve(name).toString(), "--preview-every", "2"));
        ClusterNodeProcess node = ClusterNodeProcess.start(name, temp, args);
        nodes.add(node);
        return node;
    }

    private ClusterNodeProcess api(String name, String database, Path images, int[] hz, int port) throws Exception {
        List<String> args = new ArrayList<>(common(database, images, hz, 0));
        args.addAll(List.of("--role", "api", "--port", Integer.toString(port), "--data", temp.resolve(name).toString()));
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
