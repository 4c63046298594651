package daguerre.server.cluster;

import java.nio.file.Path;
import java.util.List;

/**
 * How {@code serve} takes part in a cluster: its role, the Hazelcast membership it joins, the
 * PostgreSQL database that holds the shared queue and gallery index, and the shared images folder.
 * {@link #SINGLE} (role {@code all}, no cluster, no database) is today's one-process service on
 * SQLite, and the default.
 *
 * @param role what this process does
 * @param clustered whether it joins a Vert.x cluster (Hazelcast)
 * @param host the address Hazelcast and the event bus bind and advertise
 * @param port Hazelcast's TCP port
 * @param members the {@code HOST:PORT} addresses of other members (TCP/IP join; multicast and cloud discovery off)
 * @param name the Hazelcast cluster name: nodes with another name never join
 * @param databaseUrl {@code jdbc:postgresql://HOST:PORT/DB}, or null for the embedded SQLite database
 * @param databaseUser the database user, or null
 * @param databasePassword the database password, or null
 * @param images the shared images folder every node mounts (needed with a cluster), or null for {@code DATA/images}
 * @param leaseSeconds how long a worker's claim holds a job without renewal (renewed every third of it); a worker
 *                     that cannot renew for longer loses the job, which runs elsewhere
 */
public record ClusterOptions(Role role, boolean clustered, String host, int port, List<String> members, String name,
        String databaseUrl, String databaseUser, String databasePassword, Path images, int leaseSeconds) {

    /** What a process of the cluster does. */
    public enum Role {
        /** HTTP, event streams and the workers in one process (the default). */
        ALL,
        /** HTTP, UI and event streams; loads no model. */
        API,
        /** Loads its models and runs jobs; HTTP only for health and metrics. */
        WORKER;

        public String optionName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public static Role named(String name) {
            for (Role role : values()) {
                if (role.optionName().equals(name.strip().toLowerCase(java.util.Locale.ROOT))) {
                    return role;
                }
            }
            throw new IllegalArgumentException("takes all, api or worker; got " + name);
        }

        public boolean runsHttpApi() {
            return this != WORKER;
        }

        public boolean runsJobs() {
            return this != API;
        }
    }

    public static final int DEFAULT_PORT = 5701;
    public static final String DEFAULT_NAME = "daguerre";
    public static final int DEFAULT_LEASE_SECONDS = 10;
    /** The longest lease: a worker lost for longer than this holds its job for as long. */
    public static final int MAX_LEASE_SECONDS = 3600;
    public static final ClusterOptions SINGLE = new ClusterOptions(Role.ALL, false, "127.0.0.1", DEFAULT_PORT, List.of(),
            DEFAULT_NAME, null, null, null, null, DEFAULT_LEASE_SECONDS);

    public ClusterOptions {
        members = List.copyOf(members);
    }

    /** Whether this is the one-process service on SQLite (no cluster, no PostgreSQL). */
    public boolean single() {
        return role == Role.ALL && !clustered && databaseUrl == null;
    }

    /**
     * Why this combination cannot run, or null when it can: api and worker roles need both the
     * cluster (for events and cancels) and the shared PostgreSQL database (for the queue); a
     * cluster needs the shared database; the database must be PostgreSQL.
     */
    public String problem() {
        if (databaseUrl != null && !databaseUrl.startsWith("jdbc:postgresql://")) {
            return "--database takes a PostgreSQL JDBC URL, jdbc:postgresql://HOST:PORT/DB; got " + databaseUrl;
        }
        if (role != Role.ALL && !clustered) {
            return "--role " + role.optionName() + " needs --cluster (events and cancels travel on the clustered event bus)";
        }
        if (role != Role.ALL && databaseUrl == null) {
            return "--role " + role.optionName() + " needs --database jdbc:postgresql://... (the queue every node shares)";
        }
        if (clustered && databaseUrl == null) {
            return "--cluster needs --database jdbc:postgresql://... (the queue and gallery index every node shares)";
        }
        if (clustered && images == null) {
            return "--cluster needs --images DIR, a folder every node mounts (workers write the images, api nodes serve them)";
        }
        if (!clustered && databaseUrl != null) {
            return "--database needs --cluster (nodes sharing one queue talk over the clustered event bus)";
        }
        for (String member : members) {
            if (!member.matches("[^:\\s]+:\\d{1,5}")) {
                return "--cluster-members takes HOST:PORT,...; got " + member;
            }
        }
        if (!clustered && leaseSeconds != DEFAULT_LEASE_SECONDS) {
            return "--lease-seconds needs --cluster (it is how long a worker of the shared queue holds a job)";
        }
        if (leaseSeconds < 1 || leaseSeconds > MAX_LEASE_SECONDS) {
            return "--lease-seconds takes whole seconds from 1 to " + MAX_LEASE_SECONDS + "; got " + leaseSeconds;
        }
        if (port < 1 || port > 65535) {
            return "--cluster-port takes a TCP port from 1 to 65535; got " + port;
        }
        return null;
    }
}
