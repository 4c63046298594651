package daguerre.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.server.config.ServeConfig;
import daguerre.server.http.DaguerreServer;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.EmbeddingDescriptor;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * A real service on a free port of 127.0.0.1, over any {@link ImageEngine} (the
 * {@link GradientTestEngine} test double or the real {@code PipelineEngine}), with a small HTTP
 * client. The engine stays the caller's: closing or restarting the server never closes it, so one
 * loaded engine can serve several servers in turn.
 *
 * @param <E> the engine's type, so tests reach its own controls (such as {@link GradientTestEngine#hold()})
 */
public final class TestServer<E extends ImageEngine> implements AutoCloseable {

    public static final ObjectMapper JSON = new ObjectMapper();

    public final E engine;
    public final Path dataDir;
    private final ServeConfig config;
    private DaguerreServer server;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestServer(E engine, ServeConfig config) throws Exception {
        this.engine = engine;
        this.dataDir = config.dataDir();
        this.config = config;
        this.server = DaguerreServer.start(config, new Borrowed(engine));
    }

    /** Starts a server with the defaults, port 0, {@code dataDir}, small limits and a tiny free-disk minimum, then {@code customize}. */
    public static <E extends ImageEngine> TestServer<E> start(Path dataDir, E engine, UnaryOperator<ServeConfig> customize)
            throws Exception {
        ServeConfig config = ServeConfig.defaults().withPort(0).withDataDir(dataDir).withMinFreeDiskBytes(0)
                .withMaxBodyBytes(1 << 20);
        return new TestServer<>(engine, customize.apply(config));
    }

    /** Starts a server with the defaults over a {@link GradientTestEngine} of 2 ms a step. */
    public static TestServer<GradientTestEngine> start(Path dataDir) throws Exception {
        return start(dataDir, new GradientTestEngine(2), c -> c);
    }

    /** Stops the server gracefully and starts a new one on the same data directory (and engine). */
    public void restart() throws Exception {
        server.close();
        server = DaguerreServer.start(config, new Borrowed(engine));
    }

    /** The running service (tests in its package reach its router). */
    public DaguerreServer server() {
        return server;
    }

    public int port() {
        return server.port();
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port() + path);
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).GET());
    }

    public HttpResponse<byte[]> getBytes(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    public HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    public HttpResponse<String> patch(String path, String body) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(body)));
    }

    public HttpResponse<String> delete(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(uri(path)).DELETE());
    }

    public HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpClient client() {
        return client;
    }

    public static JsonNode json(HttpResponse<String> response) throws IOException {
        return JSON.readTree(response.body());
    }

    /** Submits a native generation and returns its job id. */
    public String submit(String body) throws IOException, InterruptedException {
        HttpResponse<String> response = post("/api/v1/generations", body);
        if (response.statusCode() != 202) {
            throw new AssertionError("expected 202, got " + response.statusCode() + ": " + response.body());
        }
        return json(response).get("id").asText();
    }

    /** Polls the job until it has {@code status} (at most 60 s: real engines on a busy machine are slow) and returns it. */
    public JsonNode awaitStatus(String jobId, String status) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonNode job = null;
        while (System.nanoTime() < deadline) {
            job = json(get("/api/v1/jobs/" + jobId));
            if (job.get("status").asText().equals(status)) {
                return job;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("job " + jobId + " did not become " + status + ": " + job);
    }

    @Override
    public void close() {
        server.close();
    }

    /** The engine as the server sees it: everything passes through, except that closing it leaves it open. */
    private record Borrowed(ImageEngine engine) implements ImageEngine {

        @Override
        public List<ModelDescriptor> models() {
            return engine.models();
        }

        @Override
        public String defaultModelId() {
            return engine.defaultModelId();
        }

        @Override
        public List<SamplerDescriptor> samplers() {
            return engine.samplers();
        }

        @Override
        public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) throws Exception {
            return engine.generate(params, listener, cancelled);
        }

        @Override
        public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled,
                BooleanSupplier finishEarly) throws Exception {
            return engine.generate(params, listener, cancelled, finishEarly);
        }

        @Override
        public int promptChunks(String modelId, String prompt) {
            return engine.promptChunks(modelId, prompt);
        }

        @Override
        public int concurrentJobs() {
            return engine.concurrentJobs();
        }

        @Override
        public List<LoraDescriptor> loras() {
            return engine.loras();
        }

        @Override
        public List<EmbeddingDescriptor> embeddings(String modelId) {
            return engine.embeddings(modelId);
        }

        @Override
        public void requireLora(String name) {
            engine.requireLora(name);
        }

        @Override
        public void close() {
            // the test that made the engine closes it
        }
    }
}
