package daguerre.diffusion.pipeline;

import daguerre.diffusion.sampling.SeededNoise;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Step-level batching: generations submitted from several threads share U-Net calls. One
 * scheduler thread repeatedly takes the job that has waited longest, gathers every other active
 * job with the same {@link GenerationJob.BatchKey} (up to {@code maxRows} U-Net rows), and runs one
 * shared step ({@link StableDiffusionPipeline#step}). Jobs join between steps as they arrive and
 * leave when finished or cancelled; each keeps its own timestep, sampler state, guidance and seed,
 * so its images equal an unbatched run's up to floating-point rounding.
 *
 * <p>Prompt encoding and VAE decoding run on the submitting thread; only the denoising steps run on
 * the scheduler thread.
 */
public final class StepBatcher implements AutoCloseable {

    private record Active(GenerationJob job, CompletableFuture<Void> done) {}

    private final StableDiffusionPipeline pipeline;
    private final int maxRows;
    private final LinkedList<Active> active = new LinkedList<>();
    private final Thread scheduler;
    private final AtomicLong unetCalls = new AtomicLong();
    private volatile boolean closed;

    /** @param maxRows the most U-Net rows in one shared call (a guided image takes two) */
    public StepBatcher(StableDiffusionPipeline pipeline, int maxRows, String threadName) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be at least 1, got " + maxRows);
        }
        this.pipeline = pipeline;
        this.maxRows = maxRows;
        this.scheduler = new Thread(this::loop, threadName);
        this.scheduler.setDaemon(true);
        this.scheduler.start();
    }

    public StableDiffusionPipeline pipeline() {
        return pipeline;
    }

    /**
     * Shared U-Net calls made so far (each advances one or more jobs by one step; with step caching a
     * step of the batch may take two, a full and a shallow one).
     */
    public long unetCalls() {
        return unetCalls.get();
    }

    /**
     * Generates as {@link StableDiffusionPipeline#generate(GenerationRequest, GenerationListener, BooleanSupplier)},
     * sharing each denoising step with the other jobs running at the time. Blocks the calling thread.
     */
    public List<GeneratedImage> generate(GenerationRequest request, GenerationListener listener, BooleanSupplier cancelled)
            throws InterruptedException {
        return generate(request, listener, cancelled, () -> false);
    }

    /**
     * As {@link #generate(GenerationRequest, GenerationListener, BooleanSupplier)}; once
     * {@code finishEarly} returns true the job leaves the batch and is decoded as it stands.
     */
    public List<GeneratedImage> generate(GenerationRequest request, GenerationListener listener, BooleanSupplier cancelled,
                                         BooleanSupplier finishEarly) throws InterruptedException {
        try (GenerationJob job = pipeline.start(request, SeededNoise.consecutive(request.seed(), request.batchSize()),
                listener, cancelled, finishEarly)) {
            return run(job);
        }
    }

    /** Runs {@code job} in the shared batch until it is done, then its next pass (a hires fix's second) the same way, and decodes the last. */
    private List<GeneratedImage> run(GenerationJob job) throws InterruptedException {
        Active entry = new Active(job, new CompletableFuture<>());
        synchronized (active) {
            if (closed) {
                throw new CancellationException("the batcher is closed");
            }
            active.add(entry);
            active.notifyAll();
        }
        try {
            entry.done.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(cause);
        } catch (InterruptedException e) {
            entry.done.cancel(false);
            throw e;
        }
        try (GenerationJob next = pipeline.nextPass(job)) {
            return next == null ? pipeline.finish(job) : run(next);
        }
    }

    private void loop() {
        while (true) {
            List<Active> batch;
            try {
                batch = nextBatch();
            } catch (InterruptedException e) {
                return;
            }
            if (batch == null) {
                return;
            }
            try {
                unetCalls.addAndGet(pipeline.step(batch.stream().map(Active::job).toList()));
            } catch (RuntimeException | Error e) {
                batch.forEach(a -> a.done.completeExceptionally(e));
            }
            synchronized (active) {
                for (Active a : batch) {
                    active.remove(a);
                    if ((a.job.isFinished() || a.job.isFinishingEarly()) && !a.done.isDone()) {
                        a.done.complete(null);
                    } else if (!a.done.isDone()) {
                        active.addLast(a); // waited least now: round-robin between shapes
                    }
                }
            }
        }
    }

    /** Waits for work; returns the next compatible group (oldest first), or null once closed. */
    private List<Active> nextBatch() throws InterruptedException {
        synchronized (active) {
            while (true) {
                dropCancelled();
                if (closed) {
                    active.forEach(a -> a.done.completeExceptionally(new CancellationException("the batcher was closed")));
                    active.clear();
                    return null;
                }
                if (!active.isEmpty()) {
                    break;
                }
                active.wait();
            }
            GenerationJob.BatchKey key = active.getFirst().job.batchKey();
            List<Active> batch = new ArrayList<>();
            int rows = 0;
            for (Active a : active) {
                if (a.job.batchKey().equals(key) && (batch.isEmpty() || rows + a.job.rows() <= maxRows)) {
                    batch.add(a);
                    rows += a.job.rows();
                }
            }
            return batch;
        }
    }

    private void dropCancelled() {
        for (Iterator<Active> it = active.iterator(); it.hasNext(); ) {
            Active a = it.next();
            if (a.done.isDone()) {
                it.remove();
            } else if (a.job.isCancelled()) {
                a.done.completeExceptionally(new CancellationException("generation cancelled after "
                        + a.job.state.stepsTaken() + " of " + a.job.state.totalSteps() + " steps"));
                it.remove();
            } else if (a.job.isFinishingEarly()) {
                a.done.complete(null);
                it.remove();
            }
        }
    }

    /** Stops the scheduler; jobs still running end with {@link CancellationException}. */
    @Override
    public void close() throws InterruptedException {
        synchronized (active) {
            closed = true;
            active.notifyAll();
        }
        scheduler.join();
    }
}
