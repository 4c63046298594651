package daguerre.server;

import daguerre.server.cli.BenchCommand;
import daguerre.server.cli.GenerateCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Command-line entry point of daguerre.jar. */
@Command(name = "daguerre", mixinStandardHelpOptions = true, version = "Daguerre 0.1.0",
        description = "Text-to-image latent diffusion on the JVM.",
        subcommands = {GenerateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command tree, with clear one-line errors for bad arguments and failures. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
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
