package daguerre.server.config;

import daguerre.server.jobs.Limits;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options {@code serve} and {@code batch} share (data directory, models, limits), as a
 * picocli mixin. Every option can also come from an environment variable ({@code DAGUERRE_}
 * and the option name in capitals, e.g. {@code DAGUERRE_MAX_WIDTH}; {@code DAGUERRE_MODELS}
 * as a comma-separated list) or from a Java properties file given with {@code --config} or
 * {@code DAGUERRE_CONFIG} (key = option name, e.g. {@code max-width=1024}); flags win over the
 * environment, which wins over the file.
 */
public final class ServiceOptions {

    @Option(names = "--data", description = "Data directory: database, images, thumbnails (default ./data).")
    String data;

    @Option(names = "--model", description = "A model folder or single-file checkpoint; repeat for more.")
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

    @Option(names = "--min-free-disk", description = "Refuse new jobs (507) below this free space in the data directory (default 1g).")
    String minFreeDisk;

    @Option(names = "--preview-every", description = "Send a preview image every N steps (0 = never; default 5).")
    Integer previewEvery;

    @Option(names = "--concurrent-jobs",
            description = "Jobs run at once; jobs of the same model and size share U-Net steps (default 4; 1 = one at a time).")
    Integer concurrentJobs;

    @Option(names = "--config", description = "A properties file with defaults for these options (or DAGUERRE_CONFIG).")
    Path configFile;

    /** The options of {@code serve} alone; null fields are taken from environment, file or defaults. */
    public record HttpFlags(String host, Integer port, String maxBody, List<String> apiKeys, List<String> corsOrigins) {
        public static final HttpFlags NONE = new HttpFlags(null, null, null, null, null);
    }

    /** The configuration from these flags, {@code http}'s, the environment and the config file, over the defaults. */
    public ServeConfig resolve(Map<String, String> environment, HttpFlags http) throws IOException {
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
                settings.string("host", http.host(), d.host()),
                settings.integer("port", http.port(), d.port(), 0, 65535),
                Path.of(settings.string("data", data, d.dataDir().toString())),
                modelPaths,
                limits,
                settings.bytes("max-body", http.maxBody(), d.maxBodyBytes()),
                settings.bytes("min-free-disk", minFreeDisk, d.minFreeDiskBytes()),
                settings.list("api-keys", http.apiKeys()),
                settings.list("cors-origins", http.corsOrigins()),
                settings.integer("preview-every", previewEvery, d.previewEvery(), 0, 10_000),
                settings.integer("concurrent-jobs", concurrentJobs, d.concurrentJobs(), 1, 64),
                d.shutdownGraceMillis());
    }
}
