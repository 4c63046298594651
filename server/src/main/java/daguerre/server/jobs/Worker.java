package daguerre.server.jobs;

import java.util.List;
import java.util.concurrent.CancellationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dedicated thread that runs jobs from the {@link JobQueue} one at a time on the
 * {@link ImageEngine}. Stopping it cancels the running job (within a layer) and puts it back
 * at the head of the queue, so that it runs again after a restart.
 */
public final class Worker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

    private final JobQueue queue;
    private final ImageEngine engine;
    private final ResultStore results;
    private final int previewEvery;
    private final Thread thread;
    private volatile boolean stopping;

    /**
     * @param previewEvery publish a preview every this many steps (0 = never)
     */
    public Worker(JobQueue queue, ImageEngine engine, ResultStore results, int previewEvery, String name) {
        this.queue = queue;
        this.engine = engine;
        this.results = results;
        this.previewEvery = previewEvery;
        this.thread = new Thread(this::loop, name);
        this.thread.setDaemon(true);
    }

    /** Starts the thread. */
    public void start() {
        thread.start();
    }

    private void loop() {
        while (!stopping) {
            ActiveJob job;
            try {
                job = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (job == null) {
                return;
            }
            run(job);
        }
    }

    private void run(ActiveJob job) {
        GenerationParams params = job.params();
        long[] lastStep = {System.nanoTime()};
        StepListener listener = new StepListener() {
            @Override
            public void onStep(int step, int total, byte[] previewPng) {
                long now = System.nanoTime();
                if (previewPng != null) {
                    queue.preview(job, step, previewPng);
                }
                queue.stepDone(job, step, total, (now - lastStep[0]) / 1_000_000);
                lastStep[0] = now;
            }

            @Override
            public boolean wantsPreview(int step) {
                return previewEvery > 0 && step % previewEvery == 0 && step < params.steps();
            }
        };
        try {
            EngineResult result = engine.generate(params, listener, () -> stopping || job.cancelRequested(),
                    job::finishEarlyRequested);
            List<String> imageIds;
            if (job.saveToGallery()) {
                imageIds = results.save(job.id(), params, result);
            } else {
                job.unsavedResult(result);
                imageIds = List.of();
            }
            queue.finish(job, JobState.SUCCEEDED, imageIds, null, null);
        } catch (CancellationException e) {
            if (job.cancelRequested()) {
                queue.finish(job, JobState.CANCELLED, List.of(), null, null);
            } else {
                queue.requeue(job);
            }
        } catch (Exception | OutOfMemoryError e) {
            LOG.warn("job {} failed", job.id(), e);
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            queue.finish(job, JobState.FAILED, List.of(), e instanceof OutOfMemoryError ? "out_of_memory" : "generation_failed", message);
        }
    }

    /** Stops taking jobs, stops the running one within a layer (re-queued) and waits up to {@code timeoutMillis}. */
    public void stop(long timeoutMillis) throws InterruptedException {
        stopping = true;
        queue.close();
        thread.join(timeoutMillis);
    }

    @Override
    public void close() throws InterruptedException {
        stop(30_000);
    }
}
