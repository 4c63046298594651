package daguerre.server.cluster;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prints cluster figures, asserting nothing about them (a benchmark, not a timed test; excluded
 * from the default run by its tag). Run it with
 * {@code mvn -B test -pl server -am -Dgroups=cluster-benchmark -DexcludedGroups=none -Dtest=ClusterBenchmark -Dsurefire.failIfNoSpecifiedTests=false}.
 * On the tiny model at 64x64 px, 6 steps: jobs per minute of one process on SQLite, of a cluster
 * with one worker and with two (api node apart), and the time from sending a job to its first
 * progress event on the api node's event stream, with idle workers (median of {@link #LATENCY_SAMPLES}).
 */
@Tag("cluster-benchmark")
class ClusterBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JOB = "{\"prompt\":\"a cat\",\"steps\":6,\"width\":64,\"height\":64,\"sampler\":\"euler\",\"seed\":%d}";
    private static final int JOBS = 24;
    private static final int LATENCY_SAMPLES = 9;

    @TempDir
    Path temp;

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void printFigures() throws Exception {
        Assumptions.assumeTrue(PostgresServer.binaries().isPresent(), "PostgreSQL is not installed");
        Path model = TinyModelFolder.create(temp, "tiny");
        List<String> lines = new ArrayList<>();
        lines.add(String.format("machine: %d cores; tiny model, 64x64 px, 6 steps, %d jobs per run, --concurrent-jobs 1 per worker",
                Runtime.getRuntime().availableProcessors(), JOBS));
        try (ClusterNodeProcess single = ClusterNodeProcess.start("single", temp, List.of("--model", model.toString(), "--port", "0",
                "--data", temp.resolve("single").toString(), "--concurrent-jobs", "1"))) {
            single.awaitStarted(180);
            lines.add(measure("one process, SQLite", single.port()));
        }
        try (PostgresServer postgres = PostgresServer.start()) {
            for (int workers = 1; workers <= 2; workers++) {
                String database = postgres.createDatabase("bench" + workers);
                Path images = Files.createDirectories(temp.resolve("images" + workers));
                int[] hz = new int[workers + 1];
                for (int i = 0; i < hz.length; i++) {
                    hz[i] = PostgresServer.freePort();
                }
                int apiPort = PostgresServer.freePort();
                List<ClusterNodeProcess> nodes = new ArrayList<>();
                try {
                    for (int w = 1; w <= workers; w++) {
                        nodes.add(ClusterNodeProcess.start("bench" + workers + "-worker" + w, temp, args(database, images, hz, w,
                                "--role", "worker", "--model", model.toString(), "--port", "0", "--concurrent-jobs", "1",
                                "--data", temp.resolve("w" + workers + w).toString())));
                    }
                    nodes.add(ClusterNodeProcess.start("bench" + workers + "-api", temp, args(database, images, hz, 0,
                            "--role", "api", "--port", Integer.toString(apiPort), "--data", temp.resolve("a" + workers).toString())));
                    for (ClusterNodeProcess node : nodes) {
                        node.awaitStarted(180);
                    }
                    awaitWorkers(apiPort, workers);
                    lines.add(measure("cluster, api node + " + workers + " worker" + (workers > 1 ? "s" : "") + ", PostgreSQL", apiPort));
                } finally {
                    for (ClusterNodeProcess node : nodes) {
                        node.close();
                    }
                }
            }
        }
        System.out.println("=== cluster benchmark ===");
        lines.forEach(System.out::println);
    }

    private String measure(String name, int port) throws Exception {
        // warm up: the first jobs of a JVM are slow (JIT, native library start)
        List<String> warm = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            warm.add(submit(port, String.format(JOB, i)));
        }
        for (String id : warm) {
            await(port, id);
        }
        long[] latencies = new long[LATENCY_SAMPLES];
        for (int i = 0; i < LATENCY_SAMPLES; i++) {
            latencies[i] = firstProgressMillis(port, String.format(JOB, 50 + i));
        }
        Arrays.sort(latencies);
        long start = System.nanoTime();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < JOBS; i++) {
            ids.add(submit(port, String.format(JOB, 100 + i)));
        }
        for (String id : ids) {
            await(port, id);
        }
        double minutes = (System.nanoTime() - start) / 60e9;
        return String.format("%-45s %6.1f jobs/min; send to first progress event: median %d ms (min %d, max %d)", name,
                JOBS / minutes, latencies[LATENCY_SAMPLES / 2], latencies[0], latencies[LATENCY_SAMPLES - 1]);
    }

    /** Milliseconds from sending a job (idle workers) to its first progress event on the node's event stream. */
    private long firstProgressMillis(int port, String body) throws Exception {
        long sent = System.nanoTime();
        String id = submit(port, body);
        HttpResponse<Stream<String>> events = client.send(HttpRequest.newBuilder(uri(port, "/api/v1/jobs/" + id + "/events")).build(),
                HttpResponse.BodyHandlers.ofLines());
        long at = -1;
        String event = null;
        for (String line : (Iterable<String>) events.body()::iterator) {
            if (line.startsWith("event: ")) {
                event = line.substring(7);
            } else if (line.startsWith("data: ") && "progress".equals(event) && at < 0
                    && JSON.readTree(line.substring(6)).path("step").asInt() >= 1) {
                at = System.nanoTime();
            }
        }
        if (at < 0) {
            throw new AssertionError("no progress event for job " + id);
        }
        return (at - sent) / 1_000_000;
    }

    private static List<String> args(String database, Path images, int[] hz, int index, String... more) {
        List<String> members = new ArrayList<>();
        for (int i = 0; i < hz.length; i++) {
            if (i != index) {
                members.add("127.0.0.1:" + hz[i]);
            }
        }
        List<String> args = new ArrayList<>(List.of("--cluster", "--cluster-host", "127.0.0.1", "--cluster-port",
                Integer.toString(hz[index]), "--cluster-members", String.join(",", members), "--cluster-name", "bench-" + hz[0],
                "--database", database, "--database-user", PostgresServer.USER, "--images", images.toString()));
        args.addAll(List.of(more));
        return args;
    }

    private void awaitWorkers(int port, int workers) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            try {
                JsonNode cluster = JSON.readTree(get(port, "/api/v1/cluster"));
                long live = 0;
                for (JsonNode node : cluster.get("nodes")) {
                    live += node.get("role").asText().equals("worker") ? 1 : 0;
                }
                if (live == workers) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the workers did not join");
    }

    private void await(int port, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (System.nanoTime() < deadline) {
            String status = JSON.readTree(get(port, "/api/v1/jobs/" + id)).get("status").asText();
            if (status.equals("succeeded")) {
                return;
            }
            if (!status.equals("queued") && !status.equals("running")) {
                throw new AssertionError("job " + id + " " + status);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("job " + id + " did not finish");
    }

    private String submit(int port, String body) throws Exception {
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri(port, "/api/v1/generations"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 202) {
            throw new AssertionError(response.statusCode() + " " + response.body());
        }
        return JSON.readTree(response.body()).get("id").asText();
    }

    private String get(int port, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(port, path)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }
}
