package daguerre.server.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.pipeline.PngText;
import daguerre.server.Main;
import daguerre.server.config.KnownSettings;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceCore;
import daguerre.server.testing.GradientTestEngine;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code batch FILE}: images into the gallery and the output folder, bad lines reported with their numbers. */
class BatchCommandTest {

    @TempDir
    Path dir;

    @Test
    void runsEveryGoodLineAndReportsTheBadOnes() throws Exception {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, String.join("\n",
                "--prompt \"a harbour\" --steps 2 --seed 10 --batch_size 2",
                "--prompt \"broken\" --steps zero",
                "{\"prompt\": \"json\", \"steps\": 1, \"seed\": 20}"));
        Path data = dir.resolve("data");
        Path out = dir.resolve("out");
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        int status = new CommandLine(new BatchCommand(config -> new GradientTestEngine(1), Map.of()))
                .setOut(new PrintWriter(stdout)).setErr(new PrintWriter(stderr))
                .execute(prompts.toString(), "--data", data.toString(), "--out", out.toString());
        assertEquals(1, status, stderr.toString());
        assertTrue(stderr.toString().contains(prompts + ":2: steps must be an integer"), stderr.toString());
        assertTrue(stderr.toString().contains("100%"), stderr.toString());
        assertTrue(stdout.toString().startsWith("3 images from 2 lines"), stdout.toString());
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("00001-10.png", "00001-11.png", "00003-20.png"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
        assertTrue(PngText.read(Files.readAllBytes(out.resolve("00003-20.png"))).get("parameters").startsWith("json\n"));
        assertTrue(Files.exists(data.resolve("daguerre.db")));
    }

    @Test
    void optionsComeFromTheEnvironmentAndTheConfigFileToo() throws Exception {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "--prompt \"env\" --steps 1 --seed 7\n");
        Path config = dir.resolve("batch.properties");
        Files.writeString(config, "data=" + dir.resolve("data") + "\n");
        Path out = dir.resolve("from-env");
        StringWriter stderr = new StringWriter();
        int status = new CommandLine(new BatchCommand(c -> new GradientTestEngine(1),
                Map.of("DAGUERRE_OUT", out.toString(), "DAGUERRE_CONFIG", config.toString())))
                .setOut(new PrintWriter(new StringWriter())).setErr(new PrintWriter(stderr)).execute(prompts.toString());
        assertEquals(0, status, stderr.toString());
        assertTrue(Files.exists(out.resolve("00001-7.png")));
        assertTrue(Files.exists(dir.resolve("data").resolve("daguerre.db")));
    }

    @Test
    void anUnknownVariableStopsBatchButServeSettingsAreKnown() throws Exception {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a\n");
        StringWriter stderr = new StringWriter();
        int status = new CommandLine(new BatchCommand(c -> new GradientTestEngine(1), Map.of("DAGUERRE_OUTPUT", "x")))
                .setErr(new PrintWriter(stderr)).execute(prompts.toString());
        assertEquals(2, status);
        assertTrue(stderr.toString().contains("DAGUERRE_OUTPUT; the nearest is DAGUERRE_OUT (--out)"), stderr.toString());
        // in the real command tree, an environment or config file shared with serve may hold serve's settings
        KnownSettings known = KnownSettings.of(Main.commandLine().getSubcommands().get("batch").getCommandSpec());
        assertTrue(known.isVariable("DAGUERRE_API_KEY") && known.isVariable("DAGUERRE_OUT") && known.isSetting("api-auth"));
        assertFalse(known.isVariable("DAGUERRE_API_KYE"));
    }

    @Test
    void aDataDirectoryServesOneProcessAtATime() throws Exception {
        ServeConfig config = ServeConfig.defaults().withDataDir(dir.resolve("data"));
        GradientTestEngine engine = new GradientTestEngine(1);
        try (ServiceCore first = ServiceCore.open(config, engine, (id, event, data) -> { })) {
            IOException e = assertThrows(IOException.class, () -> ServiceCore.open(config, engine, (id, event, data) -> { }));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
        }
        ServiceCore.open(config, engine, (id, event, data) -> { }).close();
    }

    @Test
    void aBatchOnADataDirectoryInUseSaysWhatToDoInstead() throws Exception {
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "a harbour\n");
        Path data = dir.resolve("data");
        ServeConfig config = ServeConfig.defaults().withDataDir(data);
        try (ServiceCore server = ServiceCore.open(config, new GradientTestEngine(1), (id, event, payload) -> { })) {
            StringWriter stderr = new StringWriter();
            int status = new CommandLine(new BatchCommand(c -> new GradientTestEngine(1), Map.of()))
                    .setErr(new PrintWriter(stderr)).execute(prompts.toString(), "--data", data.toString(), "--out", dir.resolve("out").toString());
            assertEquals(2, status, stderr.toString());
            assertTrue(stderr.toString().contains("in use") && stderr.toString().contains("--data DIR")
                    && stderr.toString().contains("/api/v1/batches"), stderr.toString());
        }
    }

    @Test
    void imagesInTheOutputFolderHaveTheModeOfAnyNewFile() throws Exception {
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "--prompt \"a harbour\" --steps 1 --seed 5\n");
        Path out = dir.resolve("out");
        int status = new CommandLine(new BatchCommand(c -> new GradientTestEngine(1), Map.of()))
                .execute(prompts.toString(), "--data", dir.resolve("data").toString(), "--out", out.toString());
        assertEquals(0, status);
        Path reference = Files.createFile(dir.resolve("reference"));
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(out.resolve("00001-5.png")));
    }

    @Test
    void aFileWithTooManyLinesIsRefusedBeforeAnyWork() throws Exception {
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "a harbour\n\na lighthouse\na boat\n");
        Path data = dir.resolve("data");
        StringWriter stderr = new StringWriter();
        int status = new CommandLine(new BatchCommand(c -> new GradientTestEngine(1), Map.of()))
                .setErr(new PrintWriter(stderr))
                .execute(prompts.toString(), "--data", data.toString(), "--out", dir.resolve("out").toString(), "--max-batch-lines", "2");
        assertEquals(2, status, stderr.toString());
        assertTrue(stderr.toString().contains("more than 2 prompt lines (--max-batch-lines)"), stderr.toString());
        assertTrue(Files.notExists(data), "no data directory, no engine: nothing was done");
    }
}
