package daguerre.server.http;

import daguerre.server.config.EngineFactory;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceOptions;
import daguerre.server.jobs.ImageEngine;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code daguerre serve}: runs the HTTP service until the process is stopped. Every option can
 * also come from the environment or a config file, as {@link ServiceOptions} describes
 * ({@code DAGUERRE_HOST}, {@code DAGUERRE_API_KEY}, {@code DAGUERRE_API_AUTH}, ...); an unknown
 * {@code DAGUERRE_*} variable or config key stops it with the nearest real option.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Runs the image generation service (native, A1111- and OpenAI-compatible APIs, gallery).")
public final class ServeCommand implements Callable<Integer> {

    @Option(names = "--host", description = "Address to listen on (default 127.0.0.1).")
    String host;

    @Option(names = "--port", description = "TCP port (default 7860).")
    Integer port;

    @Option(names = "--max-body", description = "Largest request body, bytes or with k/m/g (default 32m).")
    String maxBody;

    @Option(names = {"--api-key", "--api-keys"}, paramLabel = "KEY", split = ",",
            description = "Require this Bearer key (or --api-auth credentials) on API routes; repeat or comma-separate for more.")
    List<String> apiKeys;

    @Option(names = "--api-auth", paramLabel = "USER:PASS", split = ",",
            description = "Accept these HTTP Basic credentials (as A1111's --api-auth) on API routes; repeat or comma-separate for more.")
    List<String> apiAuth;

    @Option(names = {"--cors-origin", "--cors-origins"}, paramLabel = "ORIGIN", split = ",",
            description = "Allow this browser origin (or *) by CORS; repeat or comma-separate for more.")
    List<String> corsOrigins;

    @Option(names = "--max-connections", description = "Most connections open at once; more are closed as they open (default 512).")
    Integer maxConnections;

    @Option(names = "--max-connections-per-client",
            description = "Most connections open at once from one client address (default 100; raise it behind a reverse proxy).")
    Integer maxConnectionsPerClient;

    @Option(names = "--idle-timeout", paramLabel = "SECONDS",
            description = "Close a connection that sends no complete request head this long after opening or after its last answer (default 30).")
    Integer idleTimeout;

    @Option(names = "--min-body-rate", paramLabel = "BYTES",
            description = "Close a connection whose request body arrives slower than this per second, after the idle timeout's grace (default 16k).")
    String minBodyRate;

    @Option(names = "--public-url", paramLabel = "URL",
            description = "The service's address as clients reach it, for the URLs it returns (default: the address it listens on).")
    String publicUrl;

    @Option(names = "--log-format", paramLabel = "FORMAT",
            description = "text (default) or json: one line per request and per job state change on standard output.")
    String logFormat;

    @Mixin
    ServiceOptions options = new ServiceOptions();

    @Mixin
    daguerre.server.cluster.ClusterFlags cluster = new daguerre.server.cluster.ClusterFlags();

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
        return options.resolve(environment, new ServiceOptions.HttpFlags(host, port, maxBody, apiKeys, apiAuth, corsOrigins, logFormat,
                maxConnections, maxConnectionsPerClient, idleTimeout, minBodyRate, publicUrl));
    }

    /** The cluster options from flags, environment and config file; {@code ClusterOptions.SINGLE} (one process on SQLite) by default. */
    public daguerre.server.cluster.ClusterOptions resolveCluster() throws java.io.IOException {
        return cluster.resolve(options.settings(environment));
    }

    @Override
    public Integer call() throws Exception {
        ServeConfig config;
        daguerre.server.cluster.ClusterOptions clusterOptions;
        try {
            config = resolve();
            clusterOptions = resolveCluster();
        } catch (IllegalArgumentException | java.io.IOException e) {
            spec.commandLine().getErr().println("serve: " + e.getMessage());
            return 2;
        }
        if (!clusterOptions.single()) {
            return ClusterMain.run(config, clusterOptions, engines, spec.commandLine().getOut());
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
