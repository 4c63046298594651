package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The bench command on the tiny random model: one "name value" figure per line (values never asserted beyond being positive). */
class BenchCommandTest {

    @Test
    void printsOneNamedFigurePerLine() {
        StringWriter out = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out));
        int exit = command.execute("--random", "tiny", "--size", "32,64", "--repeats", "1", "--warmups", "0");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = new LinkedHashMap<>();
        for (String line : out.toString().strip().split("\n")) {
            String[] parts = line.strip().split(" ");
            assertEquals(2, parts.length, "line '" + line + "'");
            if (!parts[0].equals("model")) {
                figures.put(parts[0], Double.parseDouble(parts[1]));
            }
        }
        for (String name : new String[] {"model_load_s", "peak_gflops", "text_encode_s", "unet_step_s.32", "unet_step_s.64",
                "unet_step_ratio.64", "vae_decode_s.64", "vae_decode_ratio.64", "peak_rss_gib.64"}) {
            assertTrue(figures.containsKey(name), "no figure " + name + " in\n" + out);
            assertTrue(figures.get(name) > 0, name + " = " + figures.get(name));
        }
    }

    @Test
    void refusesBothOrNoModelSource() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--size", "64"));
        assertNotEquals(0, command.execute("--random", "tiny", "--model", "/nonexistent"));
        assertTrue(err.toString().contains("--model") && err.toString().contains("--random"), err.toString());
    }

    @Test
    void unknownPresetFailsNamingTheKnownOnes() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--random", "sdxl", "--size", "64"));
        assertTrue(err.toString().contains("sdxl") && err.toString().contains("sd15"), err.toString());
    }
}
