package daguerre.server.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One cluster node as its own JVM ({@code daguerre.server.Main serve ...} on this test's class
 * path), its output in a log file. Stopped gracefully with SIGTERM ({@link #stop()}) or killed
 * with SIGKILL ({@link #kill()}).
 */
final class ClusterNodeProcess implements AutoCloseable {

    private static final Pattern STARTED = Pattern.compile("Daguerre cluster node (\\S+) \\(role (\\w+)\\) listening on http://[^:]+:(\\d+)"
            + "|Daguerre listening on http://[^:]+:(\\d+)");

    final String name;
    final Path log;
    private final Process process;
    private String nodeId;
    private int port;

    private ClusterNodeProcess(String name, Path log, Process process) {
        this.name = name;
        this.log = log;
        this.process = process;
    }

    /** Starts {@code serve} with {@code args} in a new JVM. */
    static ClusterNodeProcess start(String name, Path logDir, List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-XX:MaxDirectMemorySize=1g", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.log.com.hazelcast=warn",
                "-cp", System.getProperty("java.class.path"), "daguerre.server.Main", "serve"));
        command.addAll(args);
        Path log = logDir.resolve(name + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        builder.environment().put("OMP_NUM_THREADS", "1");
        builder.environment().keySet().removeIf(k -> k.startsWith("DAGUERRE_"));
        return new ClusterNodeProcess(name, log, builder.start());
    }

    /** Waits for the start line; returns this node with its id and HTTP port known. */
    ClusterNodeProcess awaitStarted(long seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            Matcher m = STARTED.matcher(text);
            Matcher last = null;
            while (m.find()) {
                last = m;
                nodeId = m.group(1) != null ? m.group(1) : "single";
                port = Integer.parseInt(m.group(3) != null ? m.group(3) : m.group(4));
            }
            if (last != null) {
                return this;
            }
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited with " + process.exitValue() + ":\n" + text);
            }
            Thread.sleep(100);
        }
        throw new AssertionError(name + " did not start in " + seconds + " s:\n" + Files.readString(log));
    }

    String nodeId() {
        return nodeId;
    }

    int port() {
        return port;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL: no shutdown hook runs, the job it runs stays leased until the lease expires. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGSTOP: every thread of the JVM stops (a partition as the node sees it: no renewal, no heartbeat) until {@link #resume()}. */
    void freeze() throws Exception {
        signal("STOP");
    }

    /** SIGCONT after {@link #freeze()}. */
    void resume() throws Exception {
        signal("CONT");
    }

    private void signal(String name) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    /** SIGTERM: the shutdown hook stops it gracefully. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
