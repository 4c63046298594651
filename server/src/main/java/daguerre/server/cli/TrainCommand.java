package daguerre.server.cli;

import daguerre.diffusion.bench.MachinePeak;
import daguerre.diffusion.train.TrainConfig;
import daguerre.diffusion.train.TrainingListener;
import daguerre.diffusion.train.TrainingProgress;
import daguerre.diffusion.train.TrainingRun;
import daguerre.diffusion.train.TrainingStoppedException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code train --config FILE}: trains a model with Daguerre's own trainer (BPE vocabulary, VAE,
 * then text encoder and U-Net), or fine-tunes the model a recipe's {@code init} names, and exports
 * it as a diffusers folder. Resumes automatically from the newest checkpoint in the recipe's run
 * folder.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train (or resume training) a small text-to-image model from a JSON recipe; a recipe with \"init\""
                + " fine-tunes that model folder.")
public final class TrainCommand implements Callable<Integer> {

    /** Exit status after a stop request (as a shell reports SIGINT). */
    static final int STOPPED = 130;

    @Option(names = "--config", required = true, paramLabel = "FILE",
            description = "The training recipe (e.g. weights/default/train-config.json).")
    Path config;

    @Option(names = "--export-checkpoint", paramLabel = "DIR",
            description = "Do not train: export the EMA weights of the newest checkpoints to DIR (for evaluating a run that is"
                    + " still going; the VAE stage must be finished).")
    Path exportCheckpoint;

    @Option(names = "--no-cpu-measure", description = "Do not measure the CPU's peak at start and at checkpoints.")
    boolean noCpuMeasure;

    /** Runs the command on its own, before the lead registers it under daguerre.server.Main. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new TrainCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        TrainConfig recipe = TrainConfig.load(config);
        PrintStream out = System.out;
        if (exportCheckpoint != null) {
            new TrainingRun(recipe, new ConsoleListener(out), () -> Double.NaN).exportCheckpoint(exportCheckpoint);
            return 0;
        }
        Path folder;
        try {
            folder = new TrainingRun(recipe, new ConsoleListener(out), () -> {
                if (noCpuMeasure) {
                    return Double.NaN;
                }
                try {
                    return MachinePeak.measureGflops();
                } catch (Exception e) {
                    return Double.NaN;
                }
            }).run();
        } catch (TrainingStoppedException stopped) {
            out.println();
            out.println(stopped.getMessage());
            return STOPPED;
        }
        out.println("done: " + folder);
        return 0;
    }

    /** Prints a progress line per step (redrawn in place) and notes on their own lines. */
    static final class ConsoleListener implements TrainingListener {

        private static final int WIDTH = 30;
        private final PrintStream out;

        ConsoleListener(PrintStream out) {
            this.out = out;
        }

        @Override
        public void onStep(TrainingProgress p) {
            int filled = (int) Math.round(WIDTH * (double) p.step() / p.totalSteps());
            out.printf(Locale.ROOT, "\r%s [%s%s] %d/%d  loss %.4f  %.1f samples/s  ETA %s ", p.stage(), "#".repeat(filled),
                    "-".repeat(WIDTH - filled), p.step(), p.totalSteps(), p.loss(), p.samplesPerSecond(), duration(p.etaSeconds()));
            if (p.step() == p.totalSteps()) {
                out.println();
            }
            out.flush();
        }

        @Override
        public void onCheckpoint(Path folder) {
            out.println();
            out.println("checkpoint " + folder);
        }

        @Override
        public void onMessage(String message) {
            out.println();
            out.println(message);
        }

        private static String duration(double seconds) {
            long s = Math.round(seconds);
            return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
        }
    }
}
