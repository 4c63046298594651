package daguerre.server.http;

import daguerre.server.config.EngineFactory;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.Settings;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.Limits;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code daguerre serve}: runs the HTTP service until the process is stopped. Every option can
 * also come from an environment variable ({@code DAGUERRE_} and the option name in capitals,
 * e.g. {@code DAGUERRE_MAX_WIDTH}) or from a Java properties file given with {@code --config}
 * (key = option name, e.g. {@code max-width=1024}); flags win over the environment, which wins over the file.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Runs the image generation service (native, A1111- and OpenAI-compatible APIs, gallery).")
public final class ServeCommand implements Callable<Integer> {

    @Option(names = "--host", description = "Address to listen on (default 127.0.0.1).")
    String host;

    @Option(names = "--port", description = "TCP port (default 7860).")
    Integer port;

    @Option(names = "--data", description = "Data directory: database, images, thumbnails (default ./data).")
    String data;

    @Option(names = "--model", description = "A model folder or single-file checkpoint; repeat for more (default: the shipped model).")
    List<Path> models;

    @Option(names = "--max-width", description = "Largest image width in pixels (default 2048).")
    Integer maxWidth;

    @Option(names = "--max-height", description = "Largest image height in pixels (default 2048).")
    Integer maxHeight;

    @Option(names = "--max-steps", description = "Most denoising steps per job (default 150).")
    Integer maxSteps;

    @Option(names = "--max-batch", description = "Most images per job (default 8).")
    Integer maxBatch;

    @Option(names = "--queue-size", description = "Most jobs waiting in the queue (default 100).")
    Integer queueSize;

    @Option(names = "--max-body", description = "Largest request body, bytes or with k/m/g (default 32m).")
    String maxBody;

    @Option(names = "--min-free-disk", description = "Refuse new jobs (507) below this free space in the data directory (default 1g).")
    String minFreeDisk;

    @Option(names = "--api-key", description = "Require this Bearer key on API routes; repeat for more keys.")
    List<String> apiKeys;

    @Option(names = "--cors-origin", description = "Allow this browser origin (or *) by CORS; repeat for more.")
    List<String> corsOrigins;

    @Option(names = "--preview-every", description = "Send a preview image every N steps (0 = never; default 5).")
    Integer previewEvery;

    @Option(names = "--config", description = "A properties file with defaults for these options (or DAGUERRE_CONFIG).")
    Path configFile;

    @Spec
    CommandSpec spec;

    private final EngineFactory engines;
    private final Map<String, String> environment;

    /** @param engines makes the engine from the resolved configuration (Main passes the pipeline's factory) */
    public ServeCommand(EngineFactory engines) {
        this(engines, System.getenv());
    }

    ServeCommand(EngineFactory engines, Map<String, String> environment) {
        this.engines = engines;
        this.environment = environment;
    }

    /** The configuration from flags, environment and config file, over the defaults. */
    public ServeConfig resolve() throws java.io.IOException {
        Path file = configFile;
        if (file == null && environment.get("DAGUERRE_CONFIG") != null) {
            file = Path.of(environment.get("DAGUERRE_CONFIG"));
        }
        Settings settings = Settings.load(environment, file);
        ServeConfig d = ServeConfig.defaults();
        Limits limits = new Limits(
                settings.integer("max-width", maxWidth, d.limits().maxWidth(), 64, 16384),
                settings.integer("max-height", maxHeight, d.limits().maxHeight(), 64, 16384),
                settings.integer("max-steps", maxSteps, d.limits().maxSteps(), 1, 10_000),
                settings.integer("max-batch", maxBatch, d.limits().maxBatch(), 1, 1024),
                settings.integer("queue-size", queueSize, d.limits().queueSize(), 1, 1_000_000));
        List<Path> modelPaths = models != null && !models.isEmpty() ? models
                : settings.list("models", null).stream().map(Path::of).toList();
        return new ServeConfig(
                settings.string("host", host, d.host()),
                settings.integer("port", port, d.port(), 0, 65535),
                Path.of(settings.string("data", data, d.dataDir().toString())),
                modelPaths,
                limits,
                settings.bytes("max-body", maxBody, d.maxBodyBytes()),
                settings.bytes("min-free-disk", minFreeDisk, d.minFreeDiskBytes()),
                settings.list("api-keys", apiKeys),
                settings.list("cors-origins", corsOrigins),
                settings.integer("preview-every", previewEvery, d.previewEvery(), 0, 10_000),
                d.shutdownGraceMillis());
    }

    @Override
    public Integer call() throws Exception {
        ServeConfig config;
        try {
            config = resolve();
        } catch (IllegalArgumentException | java.io.IOException e) {
            spec.commandLine().getErr().println("serve: " + e.getMessage());
            return 2;
        }
        ImageEngine engine = engines.create(config);
        DaguerreServer server = DaguerreServer.start(config, engine);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "daguerre-shutdown"));
        spec.commandLine().getOut().printf("Daguerre listening on http://%s:%d (data in %s)%n", config.host(), server.port(),
                config.dataDir().toAbsolutePath());
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }
}
