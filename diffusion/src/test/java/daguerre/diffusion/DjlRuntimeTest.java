package daguerre.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DjlRuntimeTest {

    /**
     * A JVM started without {@code OMP_WAIT_POLICY} (as {@code java -jar} is) still runs libtorch
     * with passive waiting. OpenMP's own report ({@code OMP_DISPLAY_ENV}, printed when libtorch
     * loads) is the witness, not our reading of the variable: libgomp spins 300,000 times before
     * sleeping when no policy is set, and not at all when it is passive.
     */
    @Test
    void libtorchWaitsPassivelyWhateverStartedTheJvm() throws Exception {
        String report = runProbe(null);
        assertTrue(report.contains("GOMP_SPINCOUNT = '0'"), report);
        assertTrue(report.contains("policy PASSIVE threads " + Runtime.getRuntime().availableProcessors()), report);
    }

    @Test
    void anExplicitWaitPolicyIsKept() throws Exception {
        String report = runProbe("ACTIVE");
        assertTrue(report.contains("OMP_WAIT_POLICY = 'ACTIVE'") && !report.contains("GOMP_SPINCOUNT = '0'"), report);
        assertTrue(report.contains("policy ACTIVE"), report);
    }

    private static String runProbe(String waitPolicy) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                WaitPolicyProbe.class.getName())).redirectErrorStream(true);
        builder.environment().remove(DjlRuntime.WAIT_POLICY);
        if (waitPolicy != null) {
            builder.environment().put(DjlRuntime.WAIT_POLICY, waitPolicy);
        }
        builder.environment().put("OMP_DISPLAY_ENV", "VERBOSE");
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(2, TimeUnit.MINUTES), "probe did not finish");
        assertEquals(0, process.exitValue(), output);
        return output;
    }
}
