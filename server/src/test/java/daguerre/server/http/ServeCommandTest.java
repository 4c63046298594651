package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.config.ServeConfig;
import daguerre.server.testing.GradientTestEngine;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}'s configuration: defaults, config file, environment and flags, in that order of precedence. */
class ServeCommandTest {

    @TempDir
    Path dir;

    private ServeConfig resolve(Map<String, String> environment, String... args) throws Exception {
        ServeCommand command = new ServeCommand(config -> new GradientTestEngine(1), environment);
        new CommandLine(command).parseArgs(args);
        return command.resolve();
    }

    @Test
    void defaultsAreSafe() throws Exception {
        ServeConfig config = resolve(Map.of());
        assertEquals("127.0.0.1", config.host());
        assertEquals(7860, config.port());
        assertEquals(Path.of("data"), config.dataDir());
        assertEquals(2048, config.limits().maxWidth());
        assertEquals(150, config.limits().maxSteps());
        assertEquals(8, config.limits().maxBatch());
        assertEquals(100, config.limits().queueSize());
        assertEquals(32L << 20, config.maxBodyBytes());
        assertTrue(config.apiKeys().isEmpty());
        assertTrue(config.corsOrigins().isEmpty());
    }

    @Test
    void flagsBeatEnvironmentWhichBeatsTheConfigFile() throws Exception {
        Path file = dir.resolve("daguerre.properties");
        Files.writeString(file, "port=9000\nmax-width=1024\nmax-steps=80\napi-keys=from-file\nmin-free-disk=2g\n");
        ServeConfig config = resolve(Map.of("DAGUERRE_MAX_WIDTH", "768", "DAGUERRE_PORT", "9100", "DAGUERRE_CORS_ORIGINS", "https://a, https://b"),
                "--config", file.toString(), "--port", "9200", "--model", "/models/a", "--model", "/models/b.safetensors",
                "--max-body", "4m", "--data", dir.toString());
        assertEquals(9200, config.port());
        assertEquals(768, config.limits().maxWidth());
        assertEquals(80, config.limits().maxSteps());
        assertEquals(List.of("from-file"), config.apiKeys());
        assertEquals(List.of("https://a", "https://b"), config.corsOrigins());
        assertEquals(2L << 30, config.minFreeDiskBytes());
        assertEquals(4L << 20, config.maxBodyBytes());
        assertEquals(List.of(Path.of("/models/a"), Path.of("/models/b.safetensors")), config.models());
        assertEquals(dir, config.dataDir());
    }

    @Test
    void badSettingsAreReportedByName() throws Exception {
        ServeCommand command = new ServeCommand(config -> new GradientTestEngine(1), Map.of("DAGUERRE_MAX_STEPS", "lots"));
        StringWriter err = new StringWriter();
        CommandLine line = new CommandLine(command).setErr(new PrintWriter(err));
        assertEquals(2, line.execute());
        assertTrue(err.toString().contains("DAGUERRE_MAX_STEPS"), err.toString());
        assertTrue(err.toString().contains("lots"), err.toString());
    }
}
