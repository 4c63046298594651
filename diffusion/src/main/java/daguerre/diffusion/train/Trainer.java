package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Parameter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;

/**
 * A generic training loop on DJL autograd: for each step, the objective's loss is recorded by a
 * {@link GradientCollector} and back-propagated, then {@link AdamW} (with gradient clipping)
 * updates the parameters under a {@link LearningRateSchedule}, and the {@link ExponentialMovingAverage}
 * follows. Checkpoints are written every few minutes and at the end; {@link #run} resumes from the
 * stage's newest checkpoint, and since every random draw is a function of (seed, step), a resumed
 * run takes exactly the steps an uninterrupted one would.
 */
public final class Trainer implements AutoCloseable {

    /** Builds one step's scalar loss; runs inside a gradient collector. */
    @FunctionalInterface
    public interface Objective {
        /**
         * The loss of step {@code step} (from 0), a scalar created in {@code scope}.
         */
        NDArray loss(long step, NDManager scope);
    }

    /**
     * How a stage trains.
     *
     * @param stage the stage's name, used for checkpoints and logs
     * @param steps total steps
     * @param batchSize samples per step (for the throughput figure)
     * @param checkpointSeconds seconds between checkpoints
     */
    public record Settings(String stage, long steps, int batchSize, LearningRateSchedule schedule, AdamW.Settings optimiser,
                           double emaDecay, double checkpointSeconds, long seed) {}

    private final Settings settings;
    private final NDManager manager;
    private final TrainableParameters parameters;
    private final AdamW optimiser;
    private final ExponentialMovingAverage ema;
    private final Path checkpoints;
    private final TrainingLog log;
    private final TrainingListener listener;
    private final DoubleSupplier peakGflops;
    /** Seconds a stopping JVM waits for the step under way and its checkpoint. */
    public static final long STOP_GRACE_SECONDS = 120;

    private volatile boolean stopRequested;
    private int skippedInARow;

    /** Consecutive steps with non-finite gradients after which training stops. */
    static final int MAX_SKIPPED_IN_A_ROW = 20;
    private long step;
    private double trainingSeconds;
    private double cpuSeconds;

    /**
     * A trainer for {@code parameters}; its optimiser and EMA state live in children of {@code manager}.
     *
     * @param checkpoints the run's checkpoint folder
     * @param peakGflops measures the machine's current peak (logged at start and at each checkpoint, to
     *     record the CPU share); may return NaN when not measured
     */
    public Trainer(Settings settings, TrainableParameters parameters, NDManager manager, Path checkpoints, TrainingLog log,
                   TrainingListener listener, DoubleSupplier peakGflops) {
        this.settings = settings;
        this.manager = manager;
        this.parameters = parameters;
        this.optimiser = new AdamW(parameters, settings.optimiser(), manager);
        this.ema = new ExponentialMovingAverage(parameters, settings.emaDecay(), manager);
        this.checkpoints = checkpoints;
        this.log = log;
        this.listener = listener;
        this.peakGflops = peakGflops;
    }

    /**
     * Loads the stage's newest checkpoint, if there is one, and drops the loss rows logged after it
     * (those steps run again); returns the step to continue from.
     */
    public long resume() throws IOException {
        Optional<Path> latest = loadLatest();
        if (latest.isPresent()) {
            log.truncate(settings.stage(), step);
            log.event("resume", "stage", settings.stage(), "step", step, "checkpoint", latest.get().toString());
            listener.onMessage(settings.stage() + ": resumed at step " + step + " from " + latest.get());
        }
        return step;
    }

    /**
     * Loads the stage's newest checkpoint (weights, EMA, optimiser state, step), if there is one,
     * leaving the logs alone: for reading the state of a run that may still be going.
     */
    public Optional<Path> loadLatest() throws IOException {
        Optional<Path> latest = Checkpoint.latest(checkpoints, settings.stage());
        if (latest.isEmpty()) {
            return latest;
        }
        Checkpoint.State state = Checkpoint.read(latest.get());
        for (Map.Entry<String, Parameter> entry : parameters.all().entrySet()) {
            float[] values = state.model().get(entry.getKey());
            if (values == null) {
                throw new IOException(latest.get() + ": no weights for " + entry.getKey());
            }
            entry.getValue().value().set(values);
        }
        optimiser.restore(state.optimiserUpdates(), state.firstMoments(), state.secondMoments());
        ema.restore(state.ema());
        step = state.step();
        trainingSeconds = state.trainingSeconds();
        cpuSeconds = state.cpuSeconds();
        return latest;
    }

    /** The next step to run. */
    public long step() {
        return step;
    }

    /** Whether every step has run. */
    public boolean finished() {
        return step >= settings.steps();
    }

    /**
     * Runs steps until {@code untilStep} (at most the stage's total), checkpointing on the way and at
     * the end. When the JVM is asked to stop (Ctrl-C, SIGTERM) during the run, the step under way
     * finishes, a checkpoint is written, and {@link TrainingStoppedException} is thrown, so that a
     * stop loses nothing (the JVM waits up to {@link #STOP_GRACE_SECONDS} for it).
     */
    public void run(Objective objective, long untilStep) throws IOException {
        long end = Math.min(untilStep, settings.steps());
        if (step >= end) {
            return;
        }
        measurePeak("start");
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stopRequested = true;
            try {
                finished.await(STOP_GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "trainer-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            loop(objective, end);
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already stopping: the hook has run or is running
            }
        }
    }

    private void loop(Objective objective, long end) throws IOException {
        long startStep = step;
        long started = System.nanoTime();
        long lastCheckpoint = started;
        while (step < end) {
            long stepStart = System.nanoTime();
            double cpuStart = processCpuSeconds();
            double learningRate = settings.schedule().at(step);
            double loss;
            try (NDManager scope = manager.newSubManager()) {
                try (GradientCollector collector = DjlRuntime.engine().newGradientCollector()) {
                    NDArray value = objective.loss(step, scope);
                    loss = value.getFloat();
                    if (!Double.isFinite(loss)) {
                        throw new IllegalStateException(settings.stage() + ": loss is " + loss + " at step " + step
                                + "; lower the learning rate or resume from an earlier checkpoint");
                    }
                    collector.backward(value);
                }
            }
            double norm = optimiser.step(learningRate);
            if (Double.isFinite(norm)) {
                ema.update(optimiser.updates());
                skippedInARow = 0;
            } else {
                skipped(step, loss);
            }
            step++;
            long now = System.nanoTime();
            trainingSeconds += (now - stepStart) / 1e9;
            cpuSeconds += processCpuSeconds() - cpuStart;
            double elapsed = (now - started) / 1e9;
            double rate = (step - startStep) * settings.batchSize() / elapsed;
            TrainingProgress progress = new TrainingProgress(settings.stage(), step, settings.steps(), loss, learningRate, norm,
                    rate, (settings.steps() - step) * settings.batchSize() / rate);
            log.step(progress);
            listener.onStep(progress);
            if (stopRequested) {
                checkpoint();
                throw new TrainingStoppedException(settings.stage(), step);
            }
            if (step == end || (now - lastCheckpoint) / 1e9 >= settings.checkpointSeconds()) {
                checkpoint();
                lastCheckpoint = System.nanoTime();
            }
        }
    }

    /**
     * A step whose gradients were not finite was skipped (no update): logged, and fatal only when
     * {@link #MAX_SKIPPED_IN_A_ROW} steps in a row were skipped, since then the weights themselves are
     * likely broken.
     */
    private void skipped(long at, double loss) throws IOException {
        skippedInARow++;
        List<String> names = optimiser.nonFiniteGradients();
        log.event("skipped_step", "stage", settings.stage(), "step", at, "loss", loss,
                "non_finite_gradients", String.join(" ", names.subList(0, Math.min(names.size(), 8))),
                "non_finite_count", names.size());
        listener.onMessage(String.format("%s: step %d skipped: non-finite gradients in %d parameters (%s%s)",
                settings.stage(), at, names.size(), String.join(", ", names.subList(0, Math.min(names.size(), 3))),
                names.size() > 3 ? ", ..." : ""));
        if (skippedInARow >= MAX_SKIPPED_IN_A_ROW) {
            throw new IllegalStateException(settings.stage() + ": " + skippedInARow + " steps in a row had non-finite"
                    + " gradients (last at step " + at + "); lower the learning rate or resume from an earlier checkpoint");
        }
    }

    /** Writes a checkpoint of the current state now. */
    public Path checkpoint() throws IOException {
        if (stopRequested) {
            listener.onMessage(settings.stage() + ": stopping; writing a checkpoint at step " + step);
        }
        Path folder = Checkpoint.write(checkpoints, settings.stage(), step, settings.seed(), trainingSeconds, cpuSeconds,
                parameters, ema, optimiser);
        log.event("checkpoint", "stage", settings.stage(), "step", step, "training_seconds", trainingSeconds,
                "cpu_seconds", cpuSeconds, "folder", folder.toString());
        listener.onCheckpoint(folder);
        measurePeak("checkpoint");
        return folder;
    }

    private void measurePeak(String when) throws IOException {
        if (stopRequested) {
            return;
        }
        double gflops = peakGflops.getAsDouble();
        if (Double.isFinite(gflops)) {
            log.event("cpu_peak", "stage", settings.stage(), "step", step, "when", when, "gflops", gflops);
            listener.onMessage(String.format("%s: CPU peak now %.0f GFLOP/s", settings.stage(), gflops));
        }
    }

    /** Seconds spent in training steps of this stage, over all sessions. */
    public double trainingSeconds() {
        return trainingSeconds;
    }

    /**
     * CPU seconds this process used during the stage's steps, over all sessions: divided by the
     * machine's cores, the time the stage would take at full CPU speed (the share a shared machine
     * gives varies over a day).
     */
    public double cpuSeconds() {
        return cpuSeconds;
    }

    private static double processCpuSeconds() {
        return ProcessHandle.current().info().totalCpuDuration().map(d -> d.toNanos() / 1e9).orElse(0.0);
    }

    /** The averaged weights, by parameter name ({@code component.key}). */
    public Map<String, NDArray> emaWeights() {
        return ema.averages();
    }

    @Override
    public void close() {
        optimiser.close();
        ema.close();
    }
}
