package daguerre.server.batch;

import daguerre.server.files.AtomicFiles;
import daguerre.server.config.EngineFactory;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceCore;
import daguerre.server.config.ServiceOptions;
import daguerre.server.config.Settings;
import daguerre.server.gallery.ImageEntry;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.Limits;
import daguerre.server.jobs.RequestException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code daguerre batch FILE}: runs one job per line of a prompt file (A1111 "prompts from file"
 * lines, JSON Lines or plain prompts) without starting the HTTP service, with a progress bar.
 * Images go to the gallery in the data directory and are copied to the output folder as
 * {@code <line>-<seed>.png}. Bad lines are reported with their line numbers; the rest still run.
 * Exit status: 0 when every line produced its images, 1 when some line was bad or failed, 2 for bad usage.
 */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = "Generates the images of a prompt file, one job per line, into the gallery and an output folder.")
public final class BatchCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "FILE", description = "The prompt file.")
    Path file;

    @Option(names = {"-o", "--out"}, description = "Output folder (default: outputs/<file name>).")
    Path out;

    @Mixin
    ServiceOptions options = new ServiceOptions();

    @Spec
    CommandSpec spec;

    private final EngineFactory engines;
    private final Map<String, String> environment;

    /** @param engines makes the engine from the resolved configuration (Main passes the pipeline's factory) */
    public BatchCommand(EngineFactory engines) {
        this(engines, System.getenv());
    }

    BatchCommand(EngineFactory engines, Map<String, String> environment) {
        this.engines = engines;
        this.environment = environment;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        ServeConfig config;
        String outSetting;
        String text;
        try {
            Settings settings = options.settings(environment);
            config = options.resolve(settings);
            outSetting = settings.string("out", out == null ? null : out.toString(), null);
            try (var reader = Files.newBufferedReader(file)) {
                text = PromptFileParser.read(reader, config.limits().maxBatchLines());
            }
        } catch (IllegalArgumentException | IOException e) {
            err.println("batch: " + e.getMessage());
            return 2;
        } catch (RequestException e) {
            err.println("batch: " + file + ": " + e.getMessage());
            return 2;
        }
        Limits limits = config.limits();
        long lines = text.lines().count();
        config = config.withLimits(limits.withQueueSize(
                (int) Math.max(limits.queueSize(), Math.min(Integer.MAX_VALUE, lines + limits.queueSize()))));
        Path outDir = outSetting != null ? Path.of(outSetting)
                : Path.of("outputs", file.getFileName().toString().replaceFirst("\\.[^.]*$", ""));
        BatchProgress progress = new BatchProgress(err);
        try (ImageEngine engine = engines.create(config); ServiceCore core = ServiceCore.open(config, engine, progress)) {
            BatchStore.StoredBatch batch;
            try {
                batch = core.batches().submit(text, file.getFileName().toString());
            } catch (RequestException e) {
                err.println("batch: " + e.getMessage());
                return 2;
            }
            int invalid = 0;
            Map<String, Integer> steps = new LinkedHashMap<>();
            Map<String, Integer> lineOfJob = new LinkedHashMap<>();
            for (BatchStore.StoredLine line : batch.lines()) {
                if (line.jobId() == null) {
                    invalid++;
                    err.printf("%s:%d: %s%n", file, line.line(), line.errorMessage());
                } else {
                    JobRecord job = core.queue().find(line.jobId()).orElseThrow();
                    steps.put(job.id(), job.params().steps());
                    lineOfJob.put(job.id(), line.line());
                }
            }
            if (core.restoredJobs() > 0) {
                err.printf("%d jobs left from an earlier run go first%n", core.restoredJobs());
            }
            progress.track(steps);
            core.startWorker();
            Files.createDirectories(outDir);
            int failed = 0;
            int images = 0;
            for (Map.Entry<String, Integer> entry : lineOfJob.entrySet()) {
                JobRecord job = core.queue().completion(entry.getKey()).get();
                if (job.state() != JobState.SUCCEEDED) {
                    failed++;
                    continue;
                }
                for (String imageId : job.imageIds()) {
                    ImageEntry image = core.gallery().find(imageId).orElseThrow();
                    Path source = core.gallery().file(imageId).orElseThrow();
                    AtomicFiles.write(outDir.resolve(String.format("%05d-%d.png", entry.getValue(), image.seed())),
                            Files.readAllBytes(source));
                    images++;
                }
            }
            progress.finish();
            for (Map.Entry<String, Integer> entry : lineOfJob.entrySet()) {
                JobRecord job = core.queue().find(entry.getKey()).orElseThrow();
                if (job.state() == JobState.FAILED) {
                    err.printf("%s:%d: generation failed: %s%n", file, entry.getValue(), job.errorMessage());
                }
            }
            stdout.printf("%d images from %d lines in %s (%d bad lines, %d failed jobs; batch %s)%n", images, lineOfJob.size(),
                    outDir, invalid, failed, batch.id());
            stdout.flush();
            return invalid == 0 && failed == 0 ? 0 : 1;
        } catch (ServiceCore.DataDirectoryInUseException e) {
            err.println("batch: " + e.getMessage() + " (a running server?): give this batch its own data directory with"
                    + " --data DIR, or send the file to the server, which runs it in its own queue: curl --data-binary @"
                    + file + " http://HOST:PORT/api/v1/batches");
            return 2;
        }
    }
}
