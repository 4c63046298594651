package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.Settings;
import daguerre.server.jobs.Limits;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code serve}'s configuration: defaults, config file, environment and flags, in that order of
 * precedence; every option from every source, unknown names refused with the nearest real one.
 */
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
    void theCostLimitsHaveDefaultsAndSettings() throws Exception {
        Limits defaults = resolve(Map.of(), "--data", dir.toString()).limits();
        assertEquals(List.of(20_000, 32, 0, 150, 1000, 2), List.of(defaults.maxPromptChars(), defaults.maxPromptChunks(),
                defaults.maxPixels(), defaults.maxJobCost(), defaults.maxBatchLines(), defaults.maxJobRestarts()));
        Path file = dir.resolve("limits.properties");
        Files.writeString(file, "max-prompt-chars=500\nmax-batch-lines=7\n");
        Limits set = resolve(Map.of("DAGUERRE_MAX_PIXELS", "262144", "DAGUERRE_MAX_JOB_COST", "40"), "--config", file.toString(),
                "--max-prompt-chunks", "4", "--max-job-restarts", "5", "--data", dir.toString()).limits();
        assertEquals(List.of(500, 4, 262144, 40, 7, 5), List.of(set.maxPromptChars(), set.maxPromptChunks(), set.maxPixels(),
                set.maxJobCost(), set.maxBatchLines(), set.maxJobRestarts()));
    }

    @Test
    void vaeTilingIsAutoByDefaultAndSetFromEverySource() throws Exception {
        assertEquals(VaeTiling.AUTO, resolve(Map.of()).vaeTiling());
        Path file = dir.resolve("tiling.properties");
        Files.writeString(file, "vae-tiling=on\n");
        assertEquals(VaeTiling.ON, resolve(Map.of(), "--config", file.toString()).vaeTiling());
        assertEquals(VaeTiling.OFF, resolve(Map.of("DAGUERRE_VAE_TILING", "OFF"), "--config", file.toString()).vaeTiling());
        assertEquals(VaeTiling.AUTO, resolve(Map.of("DAGUERRE_VAE_TILING", "off"), "--vae-tiling", "auto").vaeTiling());
        Start bad = start(Map.of(), "--vae-tiling", "sometimes");
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("vae-tiling") && bad.err().contains("on, off or auto") && bad.err().contains("sometimes"), bad.err());
    }

    @Test
    void weightDtypeComesFromEverySourceAndIsChecked() throws Exception {
        assertEquals(daguerre.diffusion.nn.WeightPrecision.AS_STORED, resolve(Map.of()).weightPrecision());
        assertEquals(daguerre.diffusion.nn.WeightPrecision.FLOAT16, resolve(Map.of("DAGUERRE_WEIGHT_DTYPE", "f16")).weightPrecision());
        assertEquals(daguerre.diffusion.nn.WeightPrecision.BFLOAT16,
                resolve(Map.of("DAGUERRE_WEIGHT_DTYPE", "f16"), "--weight-dtype", "BF16").weightPrecision());
        Start refused = start(Map.of("DAGUERRE_WEIGHT_DTYPE", "f8"));
        assertEquals(2, refused.status());
        assertTrue(refused.err().contains("weight-dtype") && refused.err().contains("f8"), refused.err());
    }

    @Test
    void computeDtypeComesFromEverySourceAndIsChecked() throws Exception {
        assertEquals(daguerre.diffusion.nn.ComputePrecision.AUTO, resolve(Map.of()).computePrecision());
        assertEquals(daguerre.diffusion.nn.ComputePrecision.FLOAT32, resolve(Map.of("DAGUERRE_COMPUTE_DTYPE", "f32")).computePrecision());
        assertEquals(daguerre.diffusion.nn.ComputePrecision.BFLOAT16,
                resolve(Map.of("DAGUERRE_COMPUTE_DTYPE", "f32"), "--compute-dtype", "BF16").computePrecision());
        Start refused = start(Map.of("DAGUERRE_COMPUTE_DTYPE", "f16"));
        assertEquals(2, refused.status());
        assertTrue(refused.err().contains("compute-dtype") && refused.err().contains("auto, f32 or bf16")
                && refused.err().contains("f16"), refused.err());
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

    /** Runs {@code serve} as the command line would, up to the point of starting; returns its exit status and stderr. */
    private record Start(int status, String err) {}

    private Start start(Map<String, String> environment, String... args) {
        ServeCommand command = new ServeCommand(config -> {
            throw new AssertionError("the configuration should have been refused");
        }, environment);
        StringWriter err = new StringWriter();
        int status = new CommandLine(command).setErr(new PrintWriter(err)).execute(args);
        return new Start(status, err.toString());
    }

    /** A server with {@code config}'s keys and credentials refuses an anonymous request and accepts {@code authorization}. */
    private void assertAuthenticates(ServeConfig config, String authorization) throws Exception {
        try (var server = TestServer.start(dir.resolve("data-" + System.nanoTime()), new GradientTestEngine(1),
                c -> c.withApiKeys(config.apiKeys()).withApiAuth(config.apiAuth()))) {
            assertEquals(401, server.get("/api/v1/models").statusCode());
            assertEquals(200, server.send(HttpRequest.newBuilder(server.uri("/api/v1/models"))
                    .header("Authorization", authorization)).statusCode(), authorization);
        }
    }

    private static String basic(String credentials) {
        return "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void singularApiKeyWorksFromEverySource() throws Exception {
        Path file = dir.resolve("keys.properties");
        Files.writeString(file, "api-key=file-a, file-b\n");
        ServeConfig fromFile = resolve(Map.of(), "--config", file.toString());
        assertEquals(List.of("file-a", "file-b"), fromFile.apiKeys());
        assertAuthenticates(fromFile, "Bearer file-b");

        ServeConfig fromEnvironment = resolve(Map.of("DAGUERRE_API_KEY", "env-a,env-b"));
        assertEquals(List.of("env-a", "env-b"), fromEnvironment.apiKeys());
        assertAuthenticates(fromEnvironment, "Bearer env-a");

        ServeConfig fromFlags = resolve(Map.of(), "--api-key", "flag-a,flag-b", "--api-key", "flag-c");
        assertEquals(List.of("flag-a", "flag-b", "flag-c"), fromFlags.apiKeys());
        assertAuthenticates(fromFlags, "Bearer flag-c");

        // both names of the option in one source count together; the environment still wins over the file
        Files.writeString(file, "api-key=one\napi-keys=two\n");
        assertEquals(List.of("one", "two"), resolve(Map.of(), "--config", file.toString()).apiKeys());
        assertEquals(List.of("env"), resolve(Map.of("DAGUERRE_API_KEYS", "env"), "--config", file.toString()).apiKeys());
    }

    @Test
    void basicCredentialsWorkFromEverySource() throws Exception {
        Path file = dir.resolve("auth.properties");
        Files.writeString(file, "api-auth=alice:file-pass\n");
        ServeConfig fromFile = resolve(Map.of("DAGUERRE_CONFIG", file.toString()));
        assertEquals(List.of("alice:file-pass"), fromFile.apiAuth());
        assertAuthenticates(fromFile, basic("alice:file-pass"));

        ServeConfig fromEnvironment = resolve(Map.of("DAGUERRE_API_AUTH", "bob:one,carol:two"));
        assertEquals(List.of("bob:one", "carol:two"), fromEnvironment.apiAuth());
        assertAuthenticates(fromEnvironment, basic("carol:two"));

        ServeConfig fromFlags = resolve(Map.of(), "--api-auth", "dave:p:w", "--api-auth", "erin:x");
        assertEquals(List.of("dave:p:w", "erin:x"), fromFlags.apiAuth());
        assertAuthenticates(fromFlags, basic("dave:p:w"));
    }

    @Test
    void malformedBasicCredentialsStopTheStartWithoutShowingThem() {
        Start start = start(Map.of("DAGUERRE_API_AUTH", "alice-without-password"));
        assertEquals(2, start.status());
        assertTrue(start.err().contains("api-auth") && start.err().contains("USER:PASS"), start.err());
        assertFalse(start.err().contains("alice-without-password"), start.err());
    }

    @Test
    void anUnknownConfigKeyStopsTheStartNamingTheNearestOption() throws Exception {
        Path file = dir.resolve("typo.properties");
        Files.writeString(file, "port=9000\napi-kee=secret\n");
        Start start = start(Map.of(), "--config", file.toString());
        assertEquals(2, start.status());
        assertTrue(start.err().contains("unknown setting \"api-kee\" in " + file), start.err());
        assertTrue(start.err().contains("nearest option is \"api-key\" (--api-key)"), start.err());

        Files.writeString(file, "config=/elsewhere.properties\n");
        Start nested = start(Map.of(), "--config", file.toString());
        assertEquals(2, nested.status());
        assertTrue(nested.err().contains("cannot name another config file"), nested.err());
    }

    @Test
    void anUnknownOrMisspeltVariableStopsTheStartNamingTheNearestOption() {
        Start misspelt = start(Map.of("DAGUERRE_API_KYE", "secret"));
        assertEquals(2, misspelt.status());
        assertTrue(misspelt.err().contains("unknown environment variable DAGUERRE_API_KYE; the nearest is DAGUERRE_API_KEY (--api-key)"),
                misspelt.err());
        Start unknown = start(Map.of("DAGUERRE_HOSTNAME", "0.0.0.0", "DAGUERRE_PORT", "9000"));
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("unknown environment variable DAGUERRE_HOSTNAME; the nearest is DAGUERRE_HOST (--host)"),
                unknown.err());
        assertFalse(unknown.err().contains("DAGUERRE_PORT"), unknown.err());
    }

    @Test
    void theLauncherVariablesAndOtherEnvironmentAreAccepted() throws Exception {
        Path file = dir.resolve("empty.properties");
        Files.writeString(file, "");
        ServeConfig config = resolve(Map.of("DAGUERRE_JAVA_OPTS", "-Xmx8g", "DAGUERRE_CONFIG", file.toString(), "HOME", "/home/x",
                "DAGUERREX", "not ours"));
        assertEquals(ServeConfig.defaults(), config);
    }

    /**
     * Every option of {@code serve}, from picocli's model, set under each of its names only in the
     * config file or only in the environment, changes the configuration (or is refused by name):
     * no option is ever silently ignored.
     */
    @Test
    void everyOptionWorksFromTheFileAndTheEnvironment() throws Exception {
        CommandLine line = new CommandLine(new ServeCommand(config -> new GradientTestEngine(1), Map.of()));
        int checked = 0;
        for (OptionSpec option : line.getCommandSpec().options()) {
            if (option.usageHelp() || option.versionHelp() || option.longestName().equals("--config")) {
                continue;
            }
            String value = sampleValue(option);
            for (String flag : option.names()) {
                if (!flag.startsWith("--")) {
                    continue;
                }
                String key = flag.substring(2);
                Path file = dir.resolve(key + ".properties");
                Files.writeString(file, key + "=" + value + "\n");
                assertChanges(key, () -> resolveAll(Map.of(), "--config", file.toString()));
                assertChanges(key, () -> resolveAll(Map.of(Settings.environmentName(key), value)));
                checked++;
            }
        }
        assertTrue(checked >= 18, "only " + checked + " option names checked");
    }

    private interface Resolution {
        List<Object> get() throws Exception;
    }

    /** The service and cluster configuration {@code serve} would start with. */
    private List<Object> resolveAll(Map<String, String> environment, String... args) throws Exception {
        ServeCommand command = new ServeCommand(config -> new GradientTestEngine(1), environment);
        new CommandLine(command).parseArgs(args);
        return List.of(command.resolve(), command.resolveCluster());
    }

    private static void assertChanges(String key, Resolution resolution) throws Exception {
        List<Object> config;
        try {
            config = resolution.get();
        } catch (IllegalArgumentException refused) {
            assertTrue(refused.getMessage().contains(key), refused.getMessage());
            return;
        }
        assertNotEquals(List.of(ServeConfig.defaults(), daguerre.server.cluster.ClusterOptions.SINGLE), config, key + " was ignored");
    }

    /** A valid value unlike every default, by the option's type. */
    private static String sampleValue(OptionSpec option) {
        if (option.type() == Integer.class || option.type() == int.class) {
            return "64";
        }
        if (option.type() == List.class) {
            return "x:y";
        }
        return "64k";
    }
}
