package daguerre.server.cli;

import daguerre.diffusion.eval.DefaultModelEvaluation;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.train.data.EmojiDataset;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.List;
import javax.imageio.ImageIO;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code evaluate}: measures a model trained on the emoji recipe against the default model's quality
 * bars on the held-out split and prints the figures. A measuring command, never a test.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Print the default model's quality figures (VAE PSNR, background and object colour adherence, seed diversity).")
public final class EvaluateCommand implements Callable<Integer> {

    @Option(names = "--model", defaultValue = "weights/default/model", paramLabel = "PATH",
            description = "The model (diffusers folder). Default: ${DEFAULT-VALUE}.")
    Path model;

    @Option(names = "--data", defaultValue = "weights/default/data", paramLabel = "DIR",
            description = "The fetched emoji data (weights/default/fetch-data.sh). Default: ${DEFAULT-VALUE}.")
    Path data;

    @Option(names = "--vae-images", defaultValue = "256", description = "Held-out images for the VAE PSNR. Default: ${DEFAULT-VALUE}.")
    int vaeImages;

    @Option(names = "--prompts", defaultValue = "50", description = "Held-out prompts for background adherence. Default: ${DEFAULT-VALUE}.")
    int prompts;

    @Option(names = "--object-backgrounds", defaultValue = "1",
            description = "Backgrounds per coloured heart/circle/square. Default: ${DEFAULT-VALUE}.")
    int objectBackgrounds;

    @Option(names = "--seeds", defaultValue = "4", description = "Seeds per prompt. Default: ${DEFAULT-VALUE}.")
    int seeds;

    @Option(names = "--steps", defaultValue = "20", description = "Denoising steps. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = {"--guidance", "--cfg-scale"}, defaultValue = "5", description = "Guidance scale. Default: ${DEFAULT-VALUE}.")
    double guidance;

    @Option(names = "--sampler", defaultValue = "euler_a", description = "Sampler. Default: ${DEFAULT-VALUE}.")
    String sampler;

    @Option(names = "--seed", defaultValue = "1000", description = "First seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--samples", paramLabel = "PNG",
            description = "Also write a contact sheet of example prompts (one row each, one column per seed) to this file.")
    Path samples;

    /** Prompts of the contact sheet: object colours, backgrounds, both styles, a held-out emoji (star). */
    static final List<String> EXAMPLE_PROMPTS = List.of(
            "red heart, twemoji style, on a blue background",
            "yellow heart, twemoji style, on a purple background",
            "green circle, noto style, on a white background",
            "blue square, noto style, on a orange background",
            "smiling face with sunglasses, twemoji style, on a pink background",
            "pizza, noto style, on a gray background",
            "rocket, twemoji style, on a black background",
            "star, noto style, on a green background");

    /** Runs the command on its own, before the lead registers it under daguerre.server.Main. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new EvaluateCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        try (StableDiffusionModel loaded = StableDiffusionModel.load(model, null, new ModelHasher())) {
            EmojiDataset emoji = EmojiDataset.load(data, loaded.defaultImageSize(), 0);
            DefaultModelEvaluation.Options options = new DefaultModelEvaluation.Options(vaeImages, prompts, objectBackgrounds,
                    seeds, steps, guidance, Sampler.fromName(sampler), seed);
            DefaultModelEvaluation.Figures f = DefaultModelEvaluation.run(loaded, emoji, options, line -> out.println("  " + line));
            out.printf(Locale.ROOT, "model %s (%s), %d steps %s, guidance %.1f%n", loaded.id(), loaded.hash(), steps, sampler,
                    guidance);
            out.printf(Locale.ROOT, "VAE PSNR (held-out)            %6.2f dB   over %d images   (bar >= 26 dB)%n", f.vaePsnr(),
                    f.vaeImages());
            out.printf(Locale.ROOT, "background adherence           %6.1f %%    over %d images   (bar >= 90 %%)%n",
                    100 * f.backgroundAdherence(), f.backgroundImages());
            out.printf(Locale.ROOT, "object colour adherence        %6.1f %%    over %d images   (bar >= 80 %%)%n",
                    100 * f.objectColourAdherence(), f.objectImages());
            out.printf(Locale.ROOT, "seed diversity (mean pairwise) %6.1f / 255%n", f.seedDiversity());
            out.printf(Locale.ROOT, "one image, %d steps            %6.2f s%n", steps, f.secondsPerImage());
            if (samples != null) {
                BufferedImage grid = DefaultModelEvaluation.sampleGrid(loaded, EXAMPLE_PROMPTS, options);
                Path parent = samples.toAbsolutePath().getParent();
                Files.createDirectories(parent);
                Path temp = Files.createTempFile(parent, ".samples-", ".png.tmp");
                ImageIO.write(grid, "png", temp.toFile());
                Files.move(temp, samples, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                out.println("samples: " + samples + " (rows: " + String.join(" | ", EXAMPLE_PROMPTS) + ")");
            }
        }
        return 0;
    }
}
