package daguerre.server.config;

import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.jobs.Limits;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options {@code serve} and {@code batch} share (data directory, models, limits), as a
 * picocli mixin. Every option of the command (these and its own) can also come from an
 * environment variable ({@code DAGUERRE_} and the option name in capitals, e.g.
 * {@code DAGUERRE_MAX_WIDTH}; repeatable options as a comma-separated list) or from a Java
 * properties file given with {@code --config} or {@code DAGUERRE_CONFIG} (key = option name,
 * e.g. {@code max-width=1024}); flags win over the environment, which wins over the file. The
 * names come from picocli's model ({@link KnownSettings}): an unknown key or variable stops the
 * command with the nearest real name.
 */
public final class ServiceOptions {

    @Option(names = "--data", description = "Data directory: database, images, thumbnails (default ./data).")
    String data;

    @Option(names = {"--model", "--models"}, description = "A model folder or single-file checkpoint; repeat for more.")
    List<Path> models;

    @Option(names = "--max-width", description = "Largest image width in pixels (default 2048).")
    Integer maxWidth;

    @Option(names = "--max-height", description = "Largest image height in pixels (default 2048).")
    Integer maxHeight;

    @Option(names = "--max-steps", description = "Most denoising steps per job (default 150).")
    Integer maxSteps;

    @Option(names = "--max-batch", description = "Most images per job (default 8).")
    Integer maxBatch;

    @Option(names = "--max-iterations", description = "Most batches one A1111 request may run in turn, its n_iter (default 16).")
    Integer maxIterations;

    @Option(names = "--max-prompt-chars",
            description = "Longest prompt or negative prompt in characters, checked before tokenizing (default 20000).")
    Integer maxPromptChars;

    @Option(names = "--max-prompt-chunks",
            description = "Most 75-token chunks a prompt or negative prompt may take with the model's tokenizer (default 32).")
    Integer maxPromptChunks;

    @Option(names = "--max-pixels",
            description = "Largest image area (width x height) on every model (default: 4 times each model's native area).")
    Integer maxPixels;

    @Option(names = "--max-job-cost",
            description = "Most a job may cost, in megapixel-steps: steps x width x height x images / 10^6 (default 150).")
    Integer maxJobCost;

    @Option(names = "--max-batch-lines", description = "Most prompt lines in one batch file (default 1000).")
    Integer maxBatchLines;

    @Option(names = "--max-job-restarts",
            description = "A job found running at start this many times (restarts interrupted it) fails instead of running again (default 2).")
    Integer maxJobRestarts;

    @Option(names = "--queue-size", description = "Most jobs waiting in the queue (default 100).")
    Integer queueSize;

    @Option(names = "--min-free-disk", description = "Refuse new jobs (507) below this free space in the data directory (default 1g).")
    String minFreeDisk;

    @Option(names = "--preview-every", description = "Send a preview image every N steps (0 = never; default 5).")
    Integer previewEvery;

    @Option(names = "--concurrent-jobs",
            description = "Jobs run at once; jobs of the same model and size share U-Net steps (default 4; 1 = one at a time).")
    Integer concurrentJobs;

    @Option(names = "--weight-dtype", paramLabel = "TYPE",
            description = "Keep weights in f32, f16 or bf16 (default: as the checkpoint stores them).")
    String weightDtype;

    @Option(names = "--compute-dtype", paramLabel = "TYPE",
            description = "Matrix products in f32 or bf16, or auto (default): bf16 with 16-bit weights on a CPU with native bf16 "
                    + "(avx512_bf16, AMX), else f32.")
    String computeDtype;

    @Option(names = "--vae-tiling", paramLabel = "MODE",
            description = "VAE decode and encode in overlapping tiles: on, off or auto (default: auto, tiles above 1024x1024 px).")
    String vaeTiling;

    @Option(names = "--lora-dir", paramLabel = "DIR",
            description = "The LoRA folder: <lora:NAME:W> runs DIR/**/NAME.safetensors (default: loras in the data directory).")
    Path loraDir;

    @Option(names = "--embeddings-dir", paramLabel = "DIR",
            description = "The textual-inversion embeddings folder; a file's name is its trigger word (default: embeddings in the data directory).")
    Path embeddingsDir;

    @Option(names = "--lora-cache", paramLabel = "SIZE",
            description = "Memory kept for loaded LoRAs between requests, least recently used out first (default 1g; 0 = none).")
    String loraCache;

    @Option(names = "--" + KnownSettings.CONFIG, description = "A properties file with defaults for these options (or DAGUERRE_CONFIG).")
    Path configFile;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** The options of {@code serve} alone; null fields are taken from environment, file or defaults. */
    public record HttpFlags(String host, Integer port, String maxBody, List<String> apiKeys, List<String> apiAuth,
            List<String> corsOrigins, String logFormat, Integer maxConnections, Integer maxConnectionsPerClient,
            Integer idleTimeoutSeconds, String minBodyRate, String publicUrl) {}

    /**
     * The environment and the config file ({@code --config}, else {@code DAGUERRE_CONFIG}), checked
     * against the settings of the command this mixin is part of.
     *
     * @throws IllegalArgumentException for a config file key or {@code DAGUERRE_*} variable that is no setting
     */
    public Settings settings(Map<String, String> environment) throws IOException {
        if (command == null) {
            throw new IllegalStateException("ServiceOptions is used outside a picocli command");
        }
        Path file = configFile;
        String fromEnvironment = environment.get(Settings.environmentName(KnownSettings.CONFIG));
        if (file == null && fromEnvironment != null && !fromEnvironment.isBlank()) {
            file = Path.of(fromEnvironment.strip());
        }
        return Settings.load(environment, file, KnownSettings.of(command));
    }

    /** The configuration from these flags, {@code http}'s, the environment and the config file, over the defaults. */
    public ServeConfig resolve(Map<String, String> environment, HttpFlags http) throws IOException {
        return resolve(settings(environment), http);
    }

    /** The configuration of a command without {@code serve}'s HTTP options: these flags and {@code settings} over the defaults. */
    public ServeConfig resolve(Settings settings) {
        return resolve(settings, null);
    }

    /**
     * The configuration from these flags, {@code http}'s and {@code settings}, over the defaults;
     * with {@code http} null (the command has no HTTP options), their defaults.
     */
    public ServeConfig resolve(Settings settings, HttpFlags http) {
        ServeConfig d = ServeConfig.defaults();
        Limits limits = new Limits(
                settings.integer("max-width", maxWidth, d.limits().maxWidth(), 64, 16384),
                settings.integer("max-height", maxHeight, d.limits().maxHeight(), 64, 16384),
                settings.integer("max-steps", maxSteps, d.limits().maxSteps(), 1, 10_000),
                settings.integer("max-batch", maxBatch, d.limits().maxBatch(), 1, 1024),
                settings.integer("queue-size", queueSize, d.limits().queueSize(), 1, 1_000_000))
                .withMaxIterations(settings.integer("max-iterations", maxIterations, d.limits().maxIterations(), 1, 10_000))
                .withPromptLimits(
                        settings.integer("max-prompt-chars", maxPromptChars, d.limits().maxPromptChars(), 1, 10_000_000),
                        settings.integer("max-prompt-chunks", maxPromptChunks, d.limits().maxPromptChunks(), 1, 10_000))
                .withMaxJobRestarts(settings.integer("max-job-restarts", maxJobRestarts, d.limits().maxJobRestarts(), 1, 1000))
                .withMaxPixels(settings.integer("max-pixels", maxPixels, d.limits().maxPixels(), 0, Integer.MAX_VALUE))
                .withMaxJobCost(settings.integer("max-job-cost", maxJobCost, d.limits().maxJobCost(), 1, Integer.MAX_VALUE))
                .withMaxBatchLines(settings.integer("max-batch-lines", maxBatchLines, d.limits().maxBatchLines(), 1, 1_000_000));
        List<Path> modelPaths = models != null && !models.isEmpty() ? models
                : settings.list("model", null).stream().map(Path::of).toList();
        ServeConfig config = new ServeConfig(
                d.host(),
                d.port(),
                Path.of(settings.string("data", data, d.dataDir().toString())),
                modelPaths,
                limits,
                d.maxBodyBytes(),
                settings.bytes("min-free-disk", minFreeDisk, d.minFreeDiskBytes()),
                d.apiKeys(),
                d.apiAuth(),
                d.corsOrigins(),
                settings.integer("preview-every", previewEvery, d.previewEvery(), 0, 10_000),
                settings.integer("concurrent-jobs", concurrentJobs, d.concurrentJobs(), 1, 64),
                d.shutdownGraceMillis(),
                d.logFormat(),
                d.connections(),
                d.publicUrl(),
                weightPrecision(settings, settings.string("weight-dtype", weightDtype, d.weightPrecision().optionName())),
                computePrecision(settings, settings.string("compute-dtype", computeDtype, d.computePrecision().optionName())),
                vaeTiling(settings, settings.string("vae-tiling", vaeTiling, d.vaeTiling().mode().optionName())),
                new ExtraNetworks(path(settings.string("lora-dir", loraDir == null ? null : loraDir.toString(), null)),
                        path(settings.string("embeddings-dir", embeddingsDir == null ? null : embeddingsDir.toString(), null)),
                        settings.bytes("lora-cache", loraCache, d.extraNetworks().loraCacheBytes())));
        if (http == null) {
            return config;
        }
        return new ServeConfig(
                settings.string("host", http.host(), d.host()),
                settings.integer("port", http.port(), d.port(), 0, 65535),
                config.dataDir(),
                config.models(),
                config.limits(),
                settings.bytes("max-body", http.maxBody(), d.maxBodyBytes()),
                config.minFreeDiskBytes(),
                settings.list("api-key", http.apiKeys()),
                credentials(settings, settings.list("api-auth", http.apiAuth())),
                settings.list("cors-origin", http.corsOrigins()),
                config.previewEvery(),
                config.concurrentJobs(),
                config.shutdownGraceMillis(),
                LogFormat.named(settings.string("log-format", http.logFormat(), "text")),
                new ConnectionLimits(
                        settings.integer("max-connections", http.maxConnections(), d.connections().maxConnections(), 1, 1_000_000),
                        settings.integer("max-connections-per-client", http.maxConnectionsPerClient(),
                                d.connections().maxConnectionsPerClient(), 1, 1_000_000),
                        1000L * settings.integer("idle-timeout", http.idleTimeoutSeconds(),
                                (int) (d.connections().idleTimeoutMillis() / 1000), 1, 86_400),
                        settings.bytes("min-body-rate", http.minBodyRate(), d.connections().minBodyBytesPerSecond())),
                publicUrl(settings, settings.string("public-url", http.publicUrl(), null)),
                config.weightPrecision(),
                config.computePrecision(),
                config.vaeTiling(),
                config.extraNetworks());
    }

    private static Path path(String value) {
        return value == null || value.isBlank() ? null : Path.of(value.strip());
    }

    private static WeightPrecision weightPrecision(Settings settings, String name) {
        try {
            return WeightPrecision.parse(name);
        } catch (IllegalArgumentException e) {
            throw settings.invalid("weight-dtype", "takes f32, f16, bf16 or stored; got " + name);
        }
    }

    private static ComputePrecision computePrecision(Settings settings, String name) {
        try {
            return ComputePrecision.parse(name);
        } catch (IllegalArgumentException e) {
            throw settings.invalid("compute-dtype", "takes auto, f32 or bf16; got " + name);
        }
    }

    /** {@code on}, {@code off} or {@code auto}, with the default tile and overlap. */
    private static VaeTiling vaeTiling(Settings settings, String mode) {
        try {
            return VaeTiling.of(VaeTiling.Mode.named(mode));
        } catch (IllegalArgumentException e) {
            throw settings.invalid("vae-tiling", "takes on, off or auto; got " + mode);
        }
    }

    /** {@code url} checked to be an absolute http(s) URL without query or fragment, its trailing '/' removed; null stays null. */
    private static String publicUrl(Settings settings, String url) {
        if (url == null || url.isBlank()) {
            return null;
        }
        try {
            java.net.URI uri = new java.net.URI(url.strip());
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                    || uri.getQuery() != null || uri.getFragment() != null) {
                throw new java.net.URISyntaxException(url, "not an absolute http(s) URL without query or fragment");
            }
        } catch (java.net.URISyntaxException e) {
            throw settings.invalid("public-url", "takes the service's address as clients reach it, e.g. https://images.example.com; got "
                    + url);
        }
        return url.strip().replaceAll("/+$", "");
    }

    /** {@code credentials}, each checked to be {@code USER:PASS} with neither part empty (the message never shows them). */
    private static List<String> credentials(Settings settings, List<String> credentials) {
        for (String credential : credentials) {
            int colon = credential.indexOf(':');
            if (colon <= 0 || colon == credential.length() - 1) {
                throw settings.invalid("api-auth", "takes USER:PASS (a user name, ':' and a password); one entry lacks a part");
            }
        }
        return credentials;
    }
}
