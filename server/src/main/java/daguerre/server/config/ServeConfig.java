package daguerre.server.config;

import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.jobs.Limits;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Everything {@code serve} needs, resolved from flags, environment and config file.
 *
 * @param host the address to listen on
 * @param port the TCP port (0 = any free port)
 * @param dataDir where the database, images and thumbnails live
 * @param models model folders or files given with {@code --model}; empty = the default model
 * @param limits bounds on requests and on the queue
 * @param maxBodyBytes the largest request body; larger ones get 413
 * @param minFreeDiskBytes below this much free space in the data directory new jobs get 507
 * @param apiKeys accepted Bearer keys
 * @param apiAuth accepted HTTP Basic credentials, each {@code USER:PASS}; with no keys and no credentials, no authentication
 * @param corsOrigins origins allowed by CORS ({@code *} for any); empty = no CORS headers
 * @param previewEvery publish a preview image every this many steps (0 = never)
 * @param concurrentJobs how many jobs the engine runs at once; jobs of the same model and size share U-Net steps
 * @param shutdownGraceMillis how long a shutdown waits for the running job to stop at its next step
 * @param logFormat how request and job lines are logged on standard output
 * @param connections bounds on open, idle and slow connections
 * @param publicUrl the service's address as clients reach it ({@code https://host[:port][/path]}), for the
 *     absolute URLs it returns (OpenAI's {@code url}); null = the address it listens on
 * @param weightPrecision the type the models' weights are kept in ({@code --weight-dtype}; default: as stored)
 * @param computePrecision the type the models' matrix products run in ({@code --compute-dtype}; default: auto,
 *     bfloat16 with 16-bit weights on a CPU with native bf16 units, else float32)
 * @param vaeTiling when VAE decodes and encodes run in overlapping tiles ({@code --vae-tiling}; a runtime
 *     setting of every model, not per request)
 * @param extraNetworks the LoRA and embeddings folders and the LoRA cache
 */
public record ServeConfig(
        String host,
        int port,
        Path dataDir,
        List<Path> models,
        Limits limits,
        long maxBodyBytes,
        long minFreeDiskBytes,
        List<String> apiKeys,
        List<String> apiAuth,
        List<String> corsOrigins,
        int previewEvery,
        int concurrentJobs,
        long shutdownGraceMillis,
        LogFormat logFormat,
        ConnectionLimits connections,
        String publicUrl,
        WeightPrecision weightPrecision,
        ComputePrecision computePrecision,
        VaeTiling vaeTiling,
        ExtraNetworks extraNetworks) {

    public ServeConfig {
        Objects.requireNonNull(computePrecision, "computePrecision");
        Objects.requireNonNull(vaeTiling, "vaeTiling");
        Objects.requireNonNull(extraNetworks, "extraNetworks");
        models = List.copyOf(models);
        apiKeys = List.copyOf(apiKeys);
        apiAuth = List.copyOf(apiAuth);
        corsOrigins = List.copyOf(corsOrigins);
    }

    /** The defaults: localhost:7860, {@code ./data}, 2048 px, 150 steps, 8 images, 100 queued jobs, 32 MiB bodies, 1 GiB free, 4 concurrent jobs. */
    public static ServeConfig defaults() {
        return new ServeConfig("127.0.0.1", 7860, Path.of("data"), List.of(), new Limits(2048, 2048, 150, 8, 100),
                32L << 20, 1L << 30, List.of(), List.of(), List.of(), 5, 4, 30_000, LogFormat.TEXT,
                ConnectionLimits.DEFAULTS, null, WeightPrecision.AS_STORED, ComputePrecision.AUTO, VaeTiling.AUTO,
                ExtraNetworks.DEFAULTS);
    }

    public ServeConfig withPort(int newPort) {
        return new ServeConfig(host, newPort, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withDataDir(Path newDataDir) {
        return new ServeConfig(host, port, newDataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withLimits(Limits newLimits) {
        return new ServeConfig(host, port, dataDir, models, newLimits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withMaxBodyBytes(long bytes) {
        return new ServeConfig(host, port, dataDir, models, limits, bytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withMinFreeDiskBytes(long bytes) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, bytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withApiKeys(List<String> keys) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, keys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withApiAuth(List<String> credentials) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, credentials, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withConnections(ConnectionLimits limits) {
        return new ServeConfig(host, port, dataDir, models, this.limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, limits, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withPublicUrl(String url) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, url, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withWeightPrecision(WeightPrecision precision) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, precision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withComputePrecision(ComputePrecision precision) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, precision, vaeTiling, extraNetworks);
    }

    public ServeConfig withVaeTiling(VaeTiling tiling) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, tiling, extraNetworks);
    }

    public ServeConfig withExtraNetworks(ExtraNetworks networks) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, networks);
    }

    /** The LoRA folder in use. */
    public Path loraDir() {
        return extraNetworks.loraDir(dataDir);
    }

    /** The embeddings folder in use. */
    public Path embeddingsDir() {
        return extraNetworks.embeddingsDir(dataDir);
    }

    /** Whether API routes need a Bearer key or Basic credentials. */
    public boolean authenticationRequired() {
        return !apiKeys.isEmpty() || !apiAuth.isEmpty();
    }

    public ServeConfig withPreviewEvery(int steps) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, corsOrigins,
                steps, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }

    public ServeConfig withCorsOrigins(List<String> origins) {
        return new ServeConfig(host, port, dataDir, models, limits, maxBodyBytes, minFreeDiskBytes, apiKeys, apiAuth, origins,
                previewEvery, concurrentJobs, shutdownGraceMillis, logFormat, connections, publicUrl, weightPrecision, computePrecision, vaeTiling, extraNetworks);
    }
}
