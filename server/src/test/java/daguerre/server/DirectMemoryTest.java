package daguerre.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code -XX:MaxDirectMemorySize} (plain {@code java -jar}) runs its command
 * with the machine's memory less the heap as the cap, as {@code ./daguerre} does; a cap the user gives is kept.
 */
class DirectMemoryTest {

    private static final Pattern LIMIT = Pattern.compile("direct memory limit ([0-9.]+) GiB");

    /** {@code daguerre --version} in a new JVM with {@code jvmOptions}: the direct memory limit it reports, in GiB. */
    private static double reportedLimitGib(String... jvmOptions) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(List.of(jvmOptions));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "--version"));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), output);
        Matcher m = LIMIT.matcher(output);
        assertTrue(m.find(), output);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void theSecondJvmStopsWhenTheFirstIsKilled(@org.junit.jupiter.api.io.TempDir Path data) throws Exception {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve", "--port", "0", "--data", data.toString());
        Process first = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(first.getInputStream(), StandardCharsets.UTF_8));
            for (String line = out.readLine(); line != null && !line.startsWith("Daguerre listening on "); line = out.readLine()) {
                // model loading and start-up lines
            }
            List<ProcessHandle> second = first.toHandle().children().toList();
            assertEquals(1, second.size(), "java without a direct-memory cap runs the command in a second JVM");
            first.destroyForcibly();   // kill -9: no shutdown hook runs in the first JVM
            assertTrue(second.get(0).onExit().get(60, TimeUnit.SECONDS) != null);
            assertTrue(!second.get(0).isAlive(), "the second JVM stopped with the first");
        } finally {
            first.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            first.destroyForcibly();
        }
    }

    @Test
    void withoutACapTheCommandRunsWithWhatTheHeapLeavesOfTheMachinesMemory() throws Exception {
        double machine = DirectMemory.machineMemoryBytes().orElseThrow() / (double) (1L << 30);
        // java -Xmx128m: the heap's 128 MiB would have been the cap; now the machine's memory less the heap
        assertEquals(machine - 0.125, reportedLimitGib("-Xmx128m"), 0.02);
        assertEquals(1.0, reportedLimitGib("-Xmx128m", "-XX:MaxDirectMemorySize=1g"), 0.001, "a cap given is kept");
    }
}
