package daguerre.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.bench.Benchmark;
import daguerre.diffusion.bench.MachineInfo;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: times a U-Net step (batch 2, as with classifier-free guidance), a VAE decode and a
 * text encode of a model (by default random SD 1.5 weights at 256 and 512 px; {@code --random sdxl}
 * for SDXL base's architecture, whose U-Net step also gets the pooled embedding and time ids and
 * whose text encode runs both encoders), measures the
 * machine's float32 peak in the same run, and prints one figure per line as {@code name value},
 * e.g. {@code unet_step_s.512 4.210} and {@code unet_step_ratio.512 2.300} (time over the FLOP
 * limit's time). The same run also measures the default model (figures prefixed {@code default.}):
 * its networks at its own size and whole 20-step images, optionally with a soak of many
 * generations that reports RSS. See {@link Benchmark}.
 *
 * <p>First come the machine's figures: {@code cpu_model}, {@code cpu_features} (the vector and
 * matrix features of {@link daguerre.diffusion.bench.CpuFeatures#REPORTED} that the CPU has, or
 * {@code none}), {@code omp_wait_policy}, {@code threads} (libtorch's intra-op threads) and
 * {@code interop_threads}. Each model's figures include two peaks, the FMA loop's
 * {@code peak_gflops} (which the ratios use) and the oneDNN matrix multiply's
 * {@code gemm_peak_gflops}, and {@code peak_probes agree} or {@code peak_probes differ} (by more
 * than 10%). With {@code --json} the same figures are one JSON object on stdout (names as keys,
 * numbers as numbers, the text figures as strings), and the lines go to stderr as progress.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the U-Net, VAE decoder and text encoder; print one figure per line.")
public final class BenchCommand implements Callable<Integer> {

    /** Where the model comes from: a file or folder, or a random-weight preset. */
    static final class Source {
        @Option(names = "--model", paramLabel = "PATH", description = "diffusers folder or single .safetensors checkpoint")
        Path model;

        @Option(names = "--random", paramLabel = "PRESET",
                description = "random weights of a preset size: sd15, small, tiny, sdxl (SDXL base 1.0, 13.9 GB of float32 weights) or tiny-xl (built in memory, no download; default: sd15)")
        String random;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    @Option(names = "--default-model", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "also measure the default model at its own size, with whole images (default: on; --no-default-model skips it)")
    boolean defaultModel;

    @Option(names = "--image-steps", defaultValue = "20", description = "steps of the default model's whole images (default: ${DEFAULT-VALUE})")
    int imageSteps;

    @Option(names = "--soak", defaultValue = "0", paramLabel = "N",
            description = "generate N default-model images after the timings and report RSS at the first and the last (default: off)")
    int soak;

    @Option(names = "--size", split = ",", paramLabel = "PX", defaultValue = "256,512",
            description = "image sizes in pixels (default: ${DEFAULT-VALUE})")
    List<Integer> sizes;

    @Option(names = "--repeats", defaultValue = "3", description = "timed calls per figure; the median is printed (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmups", defaultValue = "1", description = "untimed calls before them (default: ${DEFAULT-VALUE})")
    int warmups;

    @Option(names = "--prediction-type", paramLabel = "TYPE",
            description = "epsilon or v_prediction, for a single file without a sidecar .yaml (default: from the model, else epsilon)")
    String predictionType;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the random weights and inputs (default: ${DEFAULT-VALUE})")
    long seed;

    @Spec
    CommandSpec spec;

    @Option(names = "--ablation", paramLabel = "PX",
            description = "also time a U-Net step and a VAE decode at this size with each fused kernel switched off in turn, and with none")
    Integer ablationSize;

    @Option(names = "--cache-intervals", split = ",", paramLabel = "N",
            description = "also time a whole denoising loop (--cache-steps steps) at each --size uncached and at each step-caching interval N (e.g. 2,3,5), "
                    + "and the decoded image's change; the default model too, at its own size (default: off)")
    List<Integer> cacheIntervals;

    @Option(names = "--cache-steps", defaultValue = "10", description = "steps of the --cache-intervals loops (default: ${DEFAULT-VALUE})")
    int cacheSteps;

    @Option(names = "--weight-dtype", paramLabel = "TYPE", defaultValue = "stored", split = ",",
            description = "keep the measured model's weights in f32, f16 or bf16 (default: as stored; random weights: f32);"
                    + " a list (f32,f16) measures the model once per type, one after another, figures prefixed <type>."
                    + " (f32.unet_step_s.512)")
    List<String> weightDtypes;

    @Option(names = "--compute-dtype", paramLabel = "TYPE", defaultValue = "auto",
            description = "matrix products in f32 or bf16, or auto: bf16 with 16-bit weights on a CPU with native bf16, else f32"
                    + " (default: ${DEFAULT-VALUE})")
    String computeDtype;

    @Option(names = "--json", description = "print the figures as one JSON object on stdout (progress lines go to stderr)")
    boolean json;

    /** Every figure printed so far, by its printed name: Double, Long or String values. */
    private final Map<String, Object> printed = new LinkedHashMap<>();

    @Option(names = "--vae-tiling", defaultValue = "auto", paramLabel = "MODE",
            description = "on, off or auto: how the --vae-decode-sizes decodes tile (default: ${DEFAULT-VALUE}, tiles above 1024x1024 px)")
    String vaeTiling;

    @Option(names = "--vae-decode-sizes", split = ",", paramLabel = "PX",
            description = "also time one VAE decode at each of these sizes, tiled as --vae-tiling says, with its peak memory"
                    + " (vae_decode_tiled_s.<px>, vae_decode_tiled_activations_gib.<px>; untiled: vae_decode_untiled_...)")
    List<Integer> vaeDecodeSizes;

    @Option(names = "--loras", split = ",", paramLabel = "N",
            description = "also time a U-Net step with N random LoRAs run beside the layers (e.g. 1,3) and the merge of one"
                    + " (lora_unet_step_s.<px>.<N>, lora_step_overhead.<px>.<N>, lora_merge_s.<px>)")
    List<Integer> loras;

    @Option(names = "--lora-rank", defaultValue = "16", description = "rank of the --loras LoRAs (default: ${DEFAULT-VALUE})")
    int loraRank;

    @Option(names = "--compare-compute", paramLabel = "ROUNDS",
            description = "also time the U-Net step and VAE decode with float32 and with bfloat16 products, alternating ROUNDS"
                    + " times, and compare one --image-steps image of each (compute_unet_speedup.<px>, compute_image_mean_abs.<px>, ...)")
    Integer compareComputeRounds;

    private ComputePrecision compute;

    /** Finds the default model; tests replace it. */
    Supplier<Optional<Path>> defaultModelLocator = DefaultModel::locate;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        // in --json mode the lines are progress on stderr; stdout gets the JSON object alone
        PrintWriter out = json ? spec.commandLine().getErr() : stdout;
        ModelPreset preset;
        Benchmark.Options options;
        List<WeightPrecision> precisions;
        VaeTiling tiling;
        try {
            precisions = weightDtypes.stream().map(WeightPrecision::parse).distinct().toList();
            compute = ComputePrecision.parse(computeDtype);
            Path modelPath = source == null ? null : source.model;
            preset = modelPath != null ? null : ModelPreset.named(source == null ? "sd15" : source.random);
            options = new Benchmark.Options(sizes, repeats, warmups, seed);
            tiling = VaeTiling.of(VaeTiling.Mode.named(vaeTiling));
            if (compareComputeRounds != null && compareComputeRounds < 1) {
                throw new IllegalArgumentException("--compare-compute takes a number of rounds of at least 1, got " + compareComputeRounds);
            }
            if (imageSteps < 1 || soak < 0 || soak == 1) {
                throw new IllegalArgumentException("--image-steps must be at least 1 and --soak 0 or at least 2");
            }
            if (loras != null && (loras.stream().anyMatch(n -> n < 1 || n > 16) || loraRank < 1)) {
                throw new IllegalArgumentException("--loras takes counts from 1 to 16 and --lora-rank at least 1, got " + loras
                        + " and " + loraRank);
            }
            cacheIntervals = cacheIntervals == null ? List.of() : List.copyOf(cacheIntervals);
            if (cacheIntervals.stream().anyMatch(n -> n < 2 || n > cacheSteps)) {
                throw new IllegalArgumentException("--cache-intervals must each lie between 2 and --cache-steps (" + cacheSteps
                        + "), got " + cacheIntervals);
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        printMachine(out, MachineInfo.current());
        print(out, "", "direct_memory_limit_gib", daguerre.server.DirectMemory.limitBytes() / (double) (1L << 30));
        if (defaultModel) {
            // First, so that the large model's memory does not sit under the small one's figures.
            Optional<Path> folder = defaultModelLocator.get();
            if (folder.isEmpty()) {
                System.err.println("bench: this build ships no default model; skipping its figures");
            } else {
                benchDefaultModel(out, folder.get());
            }
        }
        for (WeightPrecision precision : precisions) {
            // one type: the figures keep their plain names; several: each type's are prefixed with it
            benchModel(out, preset, precision, precisions.size() == 1 ? "" : precision.optionName() + ".", options, tiling);
        }
        out.flush();
        if (json) {
            stdout.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(printed));
            stdout.flush();
        }
        return 0;
    }

    /**
     * Measures the {@code --model} (or the random preset) with its weights in {@code precision}:
     * the model's own figures, then each optional measurement the options ask for, every name
     * prefixed with {@code prefix}. The model is closed, and its memory handed back, before it returns.
     */
    private void benchModel(PrintWriter out, ModelPreset preset, WeightPrecision precision, String prefix,
                            Benchmark.Options options, VaeTiling tiling) throws Exception {
        long start = System.nanoTime();
        try (StableDiffusionModel model = preset == null
                ? StableDiffusionModel.load(source.model, predictionType, new ModelHasher(), precision)
                : RandomModel.create(preset, seed, precision)) {
            print(out, prefix, "model", model.id());
            print(out, prefix, "weight_dtype", model.weightDtype());
            print(out, prefix, "compute_dtype", model.useComputePrecision(compute).dtypeName());
            print(out, prefix, "weight_gib", model.weightBytes() / (double) (1L << 30));
            print(out, prefix, "model_load_s", (System.nanoTime() - start) / 1e9);
            printAll(out, prefix, Benchmark.run(model, options));
            for (int size : cacheIntervals.isEmpty() ? List.<Integer>of() : sizes) {
                printCache(out, prefix, Benchmark.stepCache(model, size, cacheSteps, cacheIntervals, seed));
            }
            for (int size : compareComputeRounds == null ? List.<Integer>of() : sizes) {
                Benchmark.computeComparison(model, size, imageSteps, compareComputeRounds, options).named()
                        .forEach((name, value) -> print(out, prefix, name, value));
            }
            for (int size : loras == null || loras.isEmpty() ? List.<Integer>of() : sizes) {
                Map<String, Double> costs = Benchmark.loraCosts(model, size, loras, loraRank, options);
                costs.forEach((name, value) -> print(out, prefix, name, value));
                double plain = costs.get("lora_unet_step_s." + size + ".0");
                for (int count : loras) {
                    print(out, prefix, "lora_step_overhead." + size + "." + count, costs.get("lora_unet_step_s." + size + "." + count) / plain);
                }
            }
            for (int size : vaeDecodeSizes == null ? List.<Integer>of() : vaeDecodeSizes) {
                Benchmark.vaeDecode(model, size, tiling, options).named().forEach((name, value) -> print(out, prefix, name, value));
            }
            if (ablationSize != null) {
                printAblation(out, prefix, Benchmark.ablation(model, ablationSize, options));
            }
        }
        System.gc();
        DjlRuntime.releaseFreedNativeMemory();
    }

    /**
     * {@code cpu_model}, {@code cpu_features}, {@code omp_wait_policy}, {@code threads}, {@code interop_threads},
     * {@code thp_mem_alloc_enable} and {@code transparent_hugepage} (the kernel's mode).
     */
    private void printMachine(PrintWriter out, MachineInfo machine) {
        print(out, "", "cpu_model", machine.cpu().model());
        print(out, "", "cpu_features", machine.cpu().reportedText());
        print(out, "", "omp_wait_policy", machine.ompWaitPolicy());
        print(out, "", "threads", (long) machine.intraOpThreads());
        print(out, "", "interop_threads", (long) machine.interopThreads());
        print(out, "", "thp_mem_alloc_enable", machine.hugePageAllocations());
        print(out, "", "transparent_hugepage", machine.transparentHugePages());
    }

    private void benchDefaultModel(PrintWriter out, Path folder) throws Exception {
        long start = System.nanoTime();
        try (StableDiffusionModel model = StableDiffusionModel.load(folder, null, new ModelHasher())) {
            String prefix = "default.";
            print(out, prefix, "model", model.id());
            print(out, prefix, "compute_dtype", model.useComputePrecision(compute).dtypeName());
            print(out, prefix, "model_load_s", (System.nanoTime() - start) / 1e9);
            Benchmark.Options atOwnSize = new Benchmark.Options(List.of(model.defaultImageSize()), repeats, warmups, seed);
            printAll(out, prefix, Benchmark.run(model, atOwnSize));
            print(out, prefix, "image_s." + imageSteps + "_steps", Benchmark.imageSeconds(model, imageSteps, atOwnSize));
            if (!cacheIntervals.isEmpty()) {
                printCache(out, prefix, Benchmark.stepCache(model, model.defaultImageSize(), cacheSteps, cacheIntervals, seed));
            }
            if (compareComputeRounds != null) {
                Benchmark.computeComparison(model, model.defaultImageSize(), imageSteps, compareComputeRounds, atOwnSize).named()
                        .forEach((name, value) -> print(out, prefix, name, value));
            }
            if (soak > 0) {
                Benchmark.Soak result = Benchmark.soak(model, soak, imageSteps, seed);
                print(out, prefix, "soak_generations", result.generations());
                print(out, prefix, "soak_baseline_generation", result.baselineGeneration());
                print(out, prefix, "soak_rss_baseline_gib", result.baselineRssGib());
                print(out, prefix, "soak_rss_end_gib", result.endRssGib());
                print(out, prefix, "soak_rss_max_gib", result.maxRssGib());
                print(out, prefix, "soak_rss_change_pct", result.rssChangePercent());
                print(out, prefix, "soak_model_arrays_baseline", result.baselineModelArrays());
                print(out, prefix, "soak_model_arrays_end", result.endModelArrays());
            }
            out.flush();
        }
    }

    /** {@code ablation.unet_step_s.<config>}, {@code ablation.unet_speedup.<kernel>} (step without it / with all), the same for the VAE. */
    private void printAblation(PrintWriter out, String prefix, Map<String, double[]> seconds) {
        double[] all = seconds.get("all");
        String at = "." + ablationSize;
        for (Map.Entry<String, double[]> entry : seconds.entrySet()) {
            print(out, prefix, "ablation.unet_step_s" + at + "." + entry.getKey(), entry.getValue()[0]);
            print(out, prefix, "ablation.vae_decode_s" + at + "." + entry.getKey(), entry.getValue()[1]);
        }
        for (Map.Entry<String, double[]> entry : seconds.entrySet()) {
            String name = entry.getKey().equals("none") ? "all_kernels" : entry.getKey().replace("without_", "");
            if (!entry.getKey().equals("all")) {
                print(out, prefix, "ablation.unet_speedup" + at + "." + name, entry.getValue()[0] / all[0]);
                print(out, prefix, "ablation.vae_speedup" + at + "." + name, entry.getValue()[1] / all[1]);
            }
        }
    }

    /** {@code cache_loop_s.<px>.1} (uncached), then per interval N {@code cache_speedup.<px>.<N>} and the image change. */
    private void printCache(PrintWriter out, String prefix, List<Benchmark.CacheFigures> figures) {
        Benchmark.CacheFigures first = figures.get(0);
        print(out, prefix, "cache_loop_s." + first.size() + ".1", first.uncachedSeconds());
        for (Benchmark.CacheFigures figure : figures) {
            figure.named().forEach((name, value) -> print(out, prefix, name, value));
        }
    }

    private void printAll(PrintWriter out, String prefix, Benchmark.Figures figures) {
        for (Map.Entry<String, Double> figure : figures.named().entrySet()) {
            print(out, prefix, figure.getKey(), figure.getValue());
        }
        print(out, prefix, "peak_probes", figures.peakProbesDiffer() ? "differ" : "agree");
    }

    /** Prints {@code name value} (4 significant digits) and keeps the figure for {@code --json}. */
    private void print(PrintWriter out, String prefix, String name, double value) {
        printed.put(prefix + name, value);
        out.println(prefix + name + " " + String.format(Locale.ROOT, "%.4g", value));
    }

    /** A count: printed as an integer, a JSON integer. */
    private void print(PrintWriter out, String prefix, String name, long value) {
        printed.put(prefix + name, value);
        out.println(prefix + name + " " + value);
    }

    /** A text figure (a name, a list of features): the rest of the line, a JSON string. */
    private void print(PrintWriter out, String prefix, String name, String value) {
        printed.put(prefix + name, value);
        out.println(prefix + name + " " + value);
    }
}
