package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.bench.CpuFeatures;
import daguerre.diffusion.testing.TinyModelFolder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
        assertPositive(figures, out, "model_load_s", "peak_gflops", "gemm_peak_gflops", "gemm_to_fma_peak", "text_encode_s",
                "unet_step_s.32", "unet_step_s.64", "unet_step_ratio.64", "vae_decode_s.64", "vae_decode_ratio.64",
                "peak_rss_gib.64", "threads", "interop_threads");
        assertTrue(figures.keySet().stream().noneMatch(name -> name.startsWith("default.")), out.toString());
        String printed = "\n" + out;
        assertTrue(printed.contains("\ncpu_features " + CpuFeatures.current().reportedText() + "\n"), printed);
        assertTrue(printed.contains("\ncpu_model " + CpuFeatures.current().model() + "\n"), printed);
        assertTrue(printed.contains("\npeak_probes agree\n") || printed.contains("\npeak_probes differ\n"), printed);
        assertTrue(printed.contains("\nweight_dtype float32\n") && printed.contains("\ncompute_dtype float32\n"), printed);
    }

    /** --loras: the step with 1 and 3 runtime LoRAs beside the plain step, their overheads, and one merge and removal. */
    @Test
    void timesTheStepWithRuntimeLorasAndTheMerge() {
        StringWriter out = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32",
                "--repeats", "1", "--warmups", "0", "--no-default-model", "--loras", "1,3", "--lora-rank", "4");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "lora_unet_step_s.32.0", "lora_unet_step_s.32.1", "lora_unet_step_s.32.3",
                "lora_step_overhead.32.1", "lora_step_overhead.32.3", "lora_merge_s.32", "lora_remove_s.32", "lora_modules.32");
        assertEquals(4.0, figures.get("lora_rank.32"));
        assertEquals(figures.get("lora_unet_step_s.32.3") / figures.get("lora_unet_step_s.32.0"), figures.get("lora_step_overhead.32.3"),
                1e-3 * figures.get("lora_step_overhead.32.3") + 1e-3);
        assertEquals(2, new CommandLine(new BenchCommand()).setErr(new PrintWriter(new StringWriter())).execute("--random", "tiny",
                "--no-default-model", "--loras", "0"), "a count of 0 is refused");
    }

    /**
     * --weight-dtype f16 builds the random model with float16 matrices: half the weight memory. A list
     * measures the model once per type in the same run, each type's figures prefixed with it.
     */
    @Test
    void keepsTheRandomWeightsInTheTypeAsked() {
        StringWriter out = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32",
                "--repeats", "1", "--warmups", "0", "--no-default-model", "--weight-dtype", "f32,f16");
        assertEquals(0, exit, out.toString());
        String text = "\n" + out;
        assertTrue(text.contains("\nf32.weight_dtype float32\n") && text.contains("\nf16.weight_dtype float16\n"), text);
        assertFalse(text.contains("\nunet_step_s.32 "), "with two types no figure keeps its plain name: " + text);
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "f32.unet_step_s.32", "f16.unet_step_s.32", "f32.peak_rss_gib.32", "f16.peak_rss_gib.32",
                "f32.peak_gflops", "f16.peak_gflops");
        double f32 = figures.get("f32.weight_gib");
        double f16 = figures.get("f16.weight_gib");
        // norms and biases stay float32: a little over half
        assertTrue(f16 > 0.5 * f32 && f16 < 0.52 * f32, f32 + " " + f16);

        StringWriter single = new StringWriter();
        exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(single)).execute("--random", "tiny", "--size", "32",
                "--repeats", "1", "--warmups", "0", "--no-default-model", "--weight-dtype", "f16");
        assertEquals(0, exit, single.toString());
        assertTrue(("\n" + single).contains("\nweight_dtype float16\n"), "one type keeps the plain names: " + single);
        assertEquals(f16, figures(single.toString()).get("weight_gib"), 1e-9);
    }

    /**
     * --compute-dtype: auto gives bfloat16 products only with 16-bit weights on a CPU with native bf16;
     * an explicit choice is kept; --compare-compute times both in one run and compares their images.
     */
    @Test
    void computeDtypeIsResolvedAndComparedInOneRun() {
        String expectedAuto = CpuFeatures.current().hasNativeBf16() ? "bfloat16" : "float32";
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("f16 auto", expectedAuto);
        cases.put("f32 auto", "float32");
        cases.put("f32 bf16", "bfloat16");
        cases.put("f16 f32", "float32");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String[] types = c.getKey().split(" ");
            StringWriter out = new StringWriter();
            int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32",
                    "--repeats", "1", "--warmups", "0", "--no-default-model", "--weight-dtype", types[0], "--compute-dtype", types[1]);
            assertEquals(0, exit, out.toString());
            assertTrue(("\n" + out).contains("\ncompute_dtype " + c.getValue() + "\n"), c.getKey() + ": " + out);
        }
        StringWriter out = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).execute("--random", "tiny", "--size", "32",
                "--repeats", "1", "--warmups", "0", "--no-default-model", "--compare-compute", "1", "--image-steps", "2");
        assertEquals(0, exit, out.toString());
        Map<String, Double> figures = figures(out.toString());
        assertPositive(figures, out, "compute_unet_step_s.32.float32", "compute_unet_step_s.32.bfloat16",
                "compute_vae_decode_s.32.float32", "compute_vae_decode_s.32.bfloat16", "compute_unet_speedup.32", "compute_vae_speedup.32");
        assertEquals(figures.get("compute_unet_step_s.32.float32") / figures.get("compute_unet_step_s.32.bfloat16"),
                figures.get("compute_unet_speedup.32"), 1e-3 * figures.get("compute_unet_speedup.32"));
        // bfloat16 products change the image, within the 0-255 range of levels
        assertTrue(figures.get("compute_image_max_abs.32") > 0 && figures.get("compute_image_max_abs.32") <= 255, out.toString());
        assertTrue(figures.get("compute_image_mean_abs.32") <= figures.get("compute_image_max_abs.32"), out.toString());
        StringWriter err = new StringWriter();
        assertEquals(2, new CommandLine(new BenchCommand()).setErr(new PrintWriter(err)).execute("--random", "tiny",
                "--no-default-model", "--compute-dtype", "f8"));
        assertTrue(err.toString().contains("f8") && err.toString().contains("auto, f32, bf16"), err.toString());
    }

    /** --json: stdout is one JSON object holding every figure the lines (now on stderr) name, numbers as numbers, text as strings. */
    @Test
    void jsonPrintsTheSameFiguresAsOneObject() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("--random", "tiny", "--size", "32", "--repeats", "1", "--warmups", "0", "--no-default-model", "--json");
        assertEquals(0, exit, err.toString());
        JsonNode json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(out.toString());
        assertTrue(json.isObject(), out.toString());
        // the progress lines on stderr name exactly the JSON's keys, in the same order
        List<String> printedNames = err.toString().strip().lines().map(line -> line.split(" ", 2)[0]).toList();
        List<String> keys = new ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertEquals(printedNames, keys, err.toString());
        for (String text : List.of("model", "cpu_model", "cpu_features", "omp_wait_policy", "peak_probes")) {
            assertTrue(json.path(text).isTextual(), text + " in " + out);
        }
        assertEquals("random-tiny", json.get("model").asText());
        assertEquals(CpuFeatures.current().reportedText(), json.get("cpu_features").asText());
        assertTrue(Set.of("agree", "differ").contains(json.get("peak_probes").asText()), out.toString());
        assertTrue(json.get("threads").isIntegralNumber() && json.get("threads").asInt() >= 1, out.toString());
        assertTrue(json.get("interop_threads").isIntegralNumber() && json.get("interop_threads").asInt() >= 1, out.toString());
        for (String number : List.of("peak_gflops", "peak_gflops_start", "peak_gflops_end", "gemm_peak_gflops",
                "gemm_peak_gflops_start", "gemm_peak_gflops_end", "gemm_to_fma_peak", "model_load_s", "text_encode_s",
                "unet_step_s.32", "unet_step_ratio.32", "vae_decode_s.32", "vae_decode_ratio.32", "peak_rss_gib.32")) {
            JsonNode value = json.get(number);
            assertTrue(value != null && value.isNumber(), number + " in " + out);
            assertTrue(Double.isFinite(value.asDouble()) && value.asDouble() > 0, number + " = " + value);
        }
        // every figure that is not text is a finite number
        json.fields().forEachRemaining(field -> assertTrue(field.getValue().isTextual()
                || field.getValue().isNumber() && Double.isFinite(field.getValue().asDouble()), field.toString()));
        assertEquals(json.get("peak_gflops").asDouble(),
                Math.max(json.get("peak_gflops_start").asDouble(), json.get("peak_gflops_end").asDouble()));
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
        // libtorch's huge-page allocations are on unless the user's environment says otherwise
        String hugePages = System.getenv("THP_MEM_ALLOC_ENABLE");
        assertTrue(out.toString().contains("\nthp_mem_alloc_enable " + (hugePages == null ? "1" : hugePages) + "\n"), out.toString());
        assertTrue(List.of("always", "madvise", "never", "unknown").stream()
                .anyMatch(mode -> out.toString().contains("\ntransparent_hugepage " + mode + "\n")), out.toString());
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

    /** The figures printed with a text value (the rest of the line), with or without the {@code default.} or a weight type's prefix. */
    private static final Set<String> TEXT_FIGURES = Set.of("model", "cpu_model", "cpu_features", "omp_wait_policy", "peak_probes",
            "weight_dtype", "compute_dtype", "thp_mem_alloc_enable", "transparent_hugepage");

    /** The numeric figures of the printed lines: every line is "name value", the value a number unless the name is a text figure. */
    private static Map<String, Double> figures(String printed) {
        Map<String, Double> figures = new LinkedHashMap<>();
        for (String line : printed.strip().split("\n")) {
            String[] parts = line.strip().split(" ", 2);
            assertEquals(2, parts.length, "line '" + line + "'");
            if (!TEXT_FIGURES.contains(parts[0].replaceFirst("^(default|stored|f32|f16|bf16)\\.", ""))) {
                assertEquals(-1, parts[1].indexOf(' '), "line '" + line + "'");
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
