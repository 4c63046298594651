package daguerre.server.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL server for tests: Debian's {@code postgresql} package binaries
 * ({@code /usr/lib/postgresql/N/bin}, the newest N), a data directory in a fresh temporary folder,
 * trust authentication on 127.0.0.1 only, a free loopback port. PostgreSQL refuses to run as root,
 * so as root it runs as the {@code postgres} user (through {@code runuser}), which owns the folder.
 */
public final class PostgresServer implements AutoCloseable {

    public static final String USER = "daguerre";

    private final Path dir;
    private final Path bin;
    private final int port;
    private Process process;

    private PostgresServer(Path bin, Path dir, int port) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
    }

    /** The folder of {@code initdb} and {@code postgres}, if PostgreSQL is installed. */
    public static Optional<Path> binaries() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("postgres")))
                    .max(Comparator.comparingInt(b -> {
                        String name = b.getParent().getFileName().toString();
                        return name.matches("\\d+") ? Integer.parseInt(name) : 0;
                    }));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Initialises a data directory and starts the server; returns once it accepts connections. */
    public static PostgresServer start() throws Exception {
        Path bin = binaries().orElseThrow(() -> new IllegalStateException("PostgreSQL binaries are not installed"));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "daguerre-pg-");
        PostgresServer server = new PostgresServer(bin, dir, freePort());
        if (isRoot()) {
            run(List.of("chown", "postgres:", dir.toString()));
        }
        server.command(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-A", "trust", "-U", USER,
                "-E", "UTF8", "--no-sync"), true);
        server.startProcess();
        return server;
    }

    private void startProcess() throws Exception {
        process = command(List.of(bin.resolve("postgres").toString(), "-D", dir.resolve("data").toString(), "-p",
                Integer.toString(port), "-k", dir.toString(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100"), false);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("postgres exited: " + Files.readString(dir.resolve("postgres.log")));
            }
            try (Connection c = DriverManager.getConnection(url("postgres"), USER, "")) {
                return;
            } catch (SQLException e) {
                last = e;
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("postgres did not start: " + last);
    }

    /** Stops the server (fast shutdown) and starts it again on the same port and data. */
    public void restart() throws Exception {
        stopFast();
        startProcess();
    }

    /** pg_ctl's fast shutdown: open sessions are ended at once (a plain SIGTERM would wait for every client to leave). */
    private void stopFast() throws Exception {
        command(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop"), true);
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }

    /** Creates a database and returns its JDBC URL. */
    public String createDatabase(String name) throws SQLException {
        try (Connection c = DriverManager.getConnection(url("postgres"), USER, ""); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return url(name);
    }

    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    private Process command(List<String> command, boolean wait) throws Exception {
        List<String> full = new ArrayList<>();
        if (isRoot()) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(wait ? "initdb.log" : "postgres.log").toFile()));
        Process p = builder.start();
        if (wait) {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + Files.readString(dir.resolve("initdb.log")));
            }
        }
        return p;
    }

    private static void run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(command + " failed: " + out);
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        if (process != null && process.isAlive()) {
            stopFast();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
