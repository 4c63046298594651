package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.testing.TinyModelFolder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The bench command on the tiny random model (and a tiny folder standing in for the default model): one "name value" figure per line (values never asserted beyond being positive). */
class BenchCommandTest {

    @Test
    void printsOneNamedFigurePerLine() {
        StringWriter out = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out));
        int exit = command.execute("--random", "tiny", "--size", "32,64", "--repeats", "1", "--warmups", "0",
                "--no-default-model");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "model_load_s", "peak_gflops", "text_encode_s", "unet_step_s.32", "unet_step_s.64",
                "unet_step_ratio.64", "vae_decode_s.64", "vae_decode_ratio.64", "peak_rss_gib.64");
        assertTrue(figures.keySet().stream().noneMatch(name -> name.startsWith("default.")), out.toString());
    }

    /** The SDXL-shaped tiny preset: the U-Net step gets the pooled embedding and time ids, the text encode runs both encoders. */
    @Test
    void measuresAnSdxlShapedRandomModel() {
        StringWriter out = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).execute("--random", "tiny-xl",
                "--size", "32,64", "--repeats", "1", "--warmups", "0", "--no-default-model");
        assertEquals(0, exit, out.toString());
        assertTrue(out.toString().contains("model random-tiny-xl"), out.toString());
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "model_load_s", "peak_gflops", "text_encode_s", "text_encode_gflop",
                "text_encode_ratio", "unet_step_s.32", "unet_step_s.64", "unet_step_tflop.64", "unet_step_ratio.64",
                "vae_decode_s.64", "vae_decode_ratio.64", "unet_peak_rss_gib.64", "peak_rss_gib.64");
        // the text figure counts both encoders: more than the first alone through every layer
        double first = daguerre.diffusion.bench.FlopCounter.textEncoder(
                daguerre.diffusion.pipeline.ModelPreset.TINY_XL.textEncoder(), 1, 77) / 1e9;
        assertTrue(figures.get("text_encode_gflop") > first, out.toString());
    }

    @Test
    void alsoMeasuresTheDefaultModelWithWholeImagesAndASoak(@TempDir Path temp) {
        Path tinyAsDefault = TinyModelFolder.create(temp, "tiny");
        StringWriter out = new StringWriter();
        BenchCommand bench = new BenchCommand();
        bench.defaultModelLocator = () -> Optional.of(tinyAsDefault);
        int exit = new CommandLine(bench).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32",
                "--repeats", "1", "--warmups", "0", "--image-steps", "2", "--soak", "3");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "default.model_load_s", "default.peak_gflops", "default.text_encode_s",
                "default.image_s.2_steps", "default.soak_rss_baseline_gib", "default.soak_rss_end_gib", "unet_step_s.32");
        assertEquals(3, figures.get("default.soak_generations"));
        assertEquals(figures.get("default.soak_model_arrays_baseline"), figures.get("default.soak_model_arrays_end"), out.toString());
        assertEquals(Runtime.getRuntime().availableProcessors(), figures.get("threads"), out.toString());
        assertTrue(out.toString().contains("omp_wait_policy PASSIVE"), out.toString());
        assertTrue(figures.keySet().stream().anyMatch(name -> name.startsWith("default.unet_step_s.")), out.toString());
    }

    /** Step caching in one run: the uncached loop and each interval, on the random model at each size and on the default model. */
    @Test
    void measuresStepCachingAtEachIntervalInOneRun(@TempDir Path temp) {
        Path tinyAsDefault = TinyModelFolder.create(temp, "tiny");
        StringWriter out = new StringWriter();
        BenchCommand bench = new BenchCommand();
        bench.defaultModelLocator = () -> Optional.of(tinyAsDefault);
        int exit = new CommandLine(bench).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32,64",
                "--repeats", "1", "--warmups", "0", "--image-steps", "1", "--cache-intervals", "2,3", "--cache-steps", "4");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = figures(out.toString());
        for (String prefix : new String[] {"", "default."}) {
            for (String size : prefix.isEmpty() ? new String[] {"32", "64"} : new String[] {"64"}) {
                assertPositive(figures, out, prefix + "cache_loop_s." + size + ".1");
                for (String n : new String[] {"2", "3"}) {
                    String at = "." + size + "." + n;
                    assertPositive(figures, out, prefix + "cache_loop_s" + at, prefix + "cache_speedup" + at);
                    double mean = figures.get(prefix + "cache_image_mean_abs" + at);
                    double max = figures.get(prefix + "cache_image_max_abs" + at);
                    assertTrue(mean >= 0 && max >= mean && max <= 255, out.toString());
                }
            }
        }
    }

    @Test
    void refusesACacheIntervalOutsideTwoToTheSteps() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--random", "tiny", "--cache-intervals", "1,2"));
        assertTrue(err.toString().contains("--cache-intervals"), err.toString());
        assertNotEquals(0, new CommandLine(new BenchCommand()).setErr(new PrintWriter(err)).execute(
                "--random", "tiny", "--cache-intervals", "5", "--cache-steps", "4"));
    }

    @Test
    void refusesBothModelSources() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--random", "tiny", "--model", "/nonexistent"));
        assertTrue(err.toString().contains("--model") && err.toString().contains("--random"), err.toString());
    }

    @Test
    void refusesASoakOfOneGeneration() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--random", "tiny", "--soak", "1"));
        assertTrue(err.toString().contains("--soak"), err.toString());
    }

    private static Map<String, Double> figures(String printed) {
        Map<String, Double> figures = new LinkedHashMap<>();
        for (String line : printed.strip().split("\n")) {
            String[] parts = line.strip().split(" ");
            assertEquals(2, parts.length, "line '" + line + "'");
            if (!parts[0].endsWith("model") && !parts[0].equals("omp_wait_policy")) {
                figures.put(parts[0], Double.parseDouble(parts[1]));
            }
        }
        return figures;
    }

    private static void assertPositive(Map<String, Double> figures, StringWriter out, String... names) {
        for (String name : names) {
            assertTrue(figures.containsKey(name), "no figure " + name + " in\n" + out);
            assertTrue(figures.get(name) > 0, name + " = " + figures.get(name));
        }
    }

    @Test
    void unknownPresetFailsNamingTheKnownOnes() {
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertNotEquals(0, command.execute("--random", "sd3", "--size", "64"));
        assertTrue(err.toString().contains("sd3") && err.toString().contains("sd15") && err.toString().contains("sdxl"),
                err.toString());
    }
}
