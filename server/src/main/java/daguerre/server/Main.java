package daguerre.server;

import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.server.batch.BatchCommand;
import daguerre.server.cli.BenchCommand;
import daguerre.server.cli.EvaluateCommand;
import daguerre.server.config.EngineFactory;
import daguerre.server.engine.PipelineEngine;
import daguerre.server.http.ServeCommand;
import daguerre.weights.model.ModelHasher;
import daguerre.server.cli.GenerateCommand;
import daguerre.server.cli.ModelsCommand;
import daguerre.server.cli.PngInfoCommand;
import daguerre.server.cli.TrainCommand;
import java.util.OptionalInt;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Command-line entry point of daguerre.jar. */
@Command(name = "daguerre", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Text-to-image latent diffusion on the JVM.",
        subcommands = {GenerateCommand.class, PngInfoCommand.class, ModelsCommand.class, BenchCommand.class, TrainCommand.class, EvaluateCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) throws Exception {
        // java -jar without -XX:MaxDirectMemorySize: the weights would be capped at the heap limit
        DirectMemory.stopWithFirstJvm();
        OptionalInt ranElsewhere = DirectMemory.runElsewhereIfCapped(args);
        System.exit(ranElsewhere.isPresent() ? ranElsewhere.getAsInt() : commandLine().execute(args));
    }

    /** {@code --version}: the release and the memory limits it runs with. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"Daguerre 0.1.0",
                    String.format(java.util.Locale.ROOT, "Java %s, heap limit %.2f GiB, direct memory limit %.2f GiB (model weights)",
                            Runtime.version(), Runtime.getRuntime().maxMemory() / GIB, DirectMemory.limitBytes() / GIB)};
        }

        private static final double GIB = 1024.0 * 1024 * 1024;
    }

    /** The command tree, with clear one-line errors for bad arguments and failures. */
    public static CommandLine commandLine() {
        EngineFactory engines = config -> {
            ModelHasher hasher = new ModelHasher(config.dataDir().resolve("model-hashes.json"));
            return PipelineEngine.load(config.models(), hasher, config.concurrentJobs(), config.weightPrecision(),
                    config.computePrecision(), config.vaeTiling(),
                    new LoraLibrary(config.loraDir(), config.extraNetworks().loraCacheBytes(), hasher),
                    new TextualInversionLibrary(config.embeddingsDir(), hasher));
        };
        CommandLine cli = new CommandLine(new Main())
                .addSubcommand(new ServeCommand(engines))
                .addSubcommand(new BatchCommand(engines));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
