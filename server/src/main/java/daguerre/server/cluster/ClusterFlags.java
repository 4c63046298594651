package daguerre.server.cluster;

import daguerre.server.config.Settings;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code serve}'s cluster options, as a picocli mixin; like every option they can also come from
 * {@code DAGUERRE_*} variables and the config file. The database user and password come from
 * {@code DAGUERRE_DATABASE_USER} and {@code DAGUERRE_DATABASE_PASSWORD} or the config file's
 * {@code database-user} and {@code database-password} (hidden options, so that a password need
 * not appear in a process list).
 */
public final class ClusterFlags {

    @Option(names = "--role", paramLabel = "ROLE",
            description = "all (HTTP and workers in one process, the default), api (HTTP only) or worker (runs jobs).")
    String role;

    @Option(names = "--cluster", arity = "0..1", fallbackValue = "true",
            description = "Join a Vert.x cluster (Hazelcast) with the other nodes; needs --database.")
    Boolean cluster;

    @Option(names = "--cluster-host", paramLabel = "HOST",
            description = "Address Hazelcast and the event bus bind and advertise (default 127.0.0.1).")
    String clusterHost;

    @Option(names = "--cluster-port", paramLabel = "PORT", description = "Hazelcast's TCP port (default 5701).")
    Integer clusterPort;

    @Option(names = "--cluster-members", paramLabel = "HOST:PORT", split = ",",
            description = "Other members to join by TCP/IP (multicast and cloud discovery are off); repeat or comma-separate.")
    List<String> clusterMembers;

    @Option(names = "--cluster-name", paramLabel = "NAME", description = "Cluster name; nodes of other names never join (default daguerre).")
    String clusterName;

    @Option(names = "--database", paramLabel = "JDBC_URL",
            description = "PostgreSQL for the shared queue and gallery index: jdbc:postgresql://HOST:PORT/DB (default: embedded SQLite).")
    String database;

    @Option(names = "--database-user", hidden = true, description = "Database user (better: DAGUERRE_DATABASE_USER).")
    String databaseUser;

    @Option(names = "--database-password", hidden = true, description = "Database password (better: DAGUERRE_DATABASE_PASSWORD).")
    String databasePassword;

    @Option(names = "--images", paramLabel = "DIR", description = "Images folder every node mounts (default DATA/images).")
    Path images;

    @Option(names = "--lease-seconds", paramLabel = "SECONDS",
            description = "How long a worker holds a job without renewing its lease (renewed every third of it); default 10.")
    Integer leaseSeconds;

    /** The options from these flags and {@code settings} (environment, config file), over {@link ClusterOptions#SINGLE}. */
    public ClusterOptions resolve(Settings settings) {
        ClusterOptions d = ClusterOptions.SINGLE;
        ClusterOptions.Role resolvedRole;
        String roleName = settings.string("role", role, d.role().optionName());
        try {
            resolvedRole = ClusterOptions.Role.named(roleName);
        } catch (IllegalArgumentException e) {
            throw settings.invalid("role", e.getMessage());
        }
        String clusterValue = settings.string("cluster", cluster == null ? null : cluster.toString(), "false");
        if (!clusterValue.equalsIgnoreCase("true") && !clusterValue.equalsIgnoreCase("false")) {
            throw settings.invalid("cluster", "takes true or false; got " + clusterValue);
        }
        String imagesValue = settings.string("images", images == null ? null : images.toString(), null);
        ClusterOptions options = new ClusterOptions(resolvedRole, Boolean.parseBoolean(clusterValue),
                settings.string("cluster-host", clusterHost, d.host()),
                settings.integer("cluster-port", clusterPort, d.port(), 1, 65535),
                settings.list("cluster-members", clusterMembers),
                settings.string("cluster-name", clusterName, d.name()),
                settings.string("database", database, null),
                settings.string("database-user", databaseUser, null),
                settings.string("database-password", databasePassword, null),
                imagesValue == null ? null : Path.of(imagesValue),
                settings.integer("lease-seconds", leaseSeconds, d.leaseSeconds(), 1, ClusterOptions.MAX_LEASE_SECONDS));
        String problem = options.problem();
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return options;
    }
}
