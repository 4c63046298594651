package daguerre.server.cli;

import daguerre.diffusion.bench.Benchmark;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.weights.model.ModelHasher;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: times a U-Net step (batch 2, as with classifier-free guidance), a VAE decode and a
 * text encode of a model, measures the machine's float32 peak in the same run, and prints one
 * figure per line as {@code name value}, e.g. {@code unet_step_s.512 4.210} and
 * {@code unet_step_ratio.512 2.300} (time over the FLOP limit's time). See {@link Benchmark}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the U-Net, VAE decoder and text encoder; print one figure per line.")
public final class BenchCommand implements Callable<Integer> {

    /** Where the model comes from: a file or folder, or a random-weight preset. */
    static final class Source {
        @Option(names = "--model", paramLabel = "PATH", description = "diffusers folder or single .safetensors checkpoint")
        Path model;

        @Option(names = "--random", paramLabel = "PRESET",
                description = "random weights of a preset size: sd15, small or tiny (built in memory, no download)")
        String random;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

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

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ModelPreset preset;
        Benchmark.Options options;
        try {
            preset = source.random != null ? ModelPreset.named(source.random) : null;
            options = new Benchmark.Options(sizes, repeats, warmups, seed);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        long start = System.nanoTime();
        try (StableDiffusionModel model = preset == null
                ? StableDiffusionModel.load(source.model, predictionType, new ModelHasher())
                : RandomModel.create(preset, seed)) {
            double loadSeconds = (System.nanoTime() - start) / 1e9;
            out.println("model " + model.id());
            print(out, "model_load_s", loadSeconds);
            Benchmark.Figures figures = Benchmark.run(model, options);
            for (Map.Entry<String, Double> figure : figures.named().entrySet()) {
                print(out, figure.getKey(), figure.getValue());
            }
        }
        out.flush();
        return 0;
    }

    private static void print(PrintWriter out, String name, double value) {
        out.println(name + " " + String.format(Locale.ROOT, "%.4g", value));
    }
}
