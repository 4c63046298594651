package daguerre.server.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * The bounded job queue in front of the workers. It keeps queued and running jobs in memory
 * and every state change in the {@link JobStore}, publishes {@link JobEvents}, and estimates
 * positions and ETAs from the measured speed of recent steps.
 *
 * <p>Workers call {@link #take()} (the next job, first come first served) or {@link #takeMatching}
 * (without waiting: a queued job a batching worker can add to its running batch, such as one for
 * the same model and size), then report {@link #stepDone}, and {@link #finish} or {@link #requeue}
 * each job.
 *
 * <p>Two locks: the queue's monitor ({@code this}) guards the in-memory state and is held only
 * for memory work, so that readers on the event loop ({@code /readyz}, A1111 progress, an event
 * stream's snapshot) never wait on SQLite; {@link #storeWrites} orders each state change with its
 * database write and is held across the write. A thread takes {@code storeWrites} before
 * {@code this}, never the other way round.
 */
public final class JobQueue implements JobService {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Pixels of a 512x512 image: the unit of work is one step on one such image. */
    private static final double UNIT_PIXELS = 512.0 * 512.0;
    private static final double SPEED_SMOOTHING = 0.2;
    private static final int MEASURED_SHAPES = 256;
    /** Free disk space is measured at most this often while it is above the minimum. */
    private static final long DISK_CHECK_INTERVAL_NANOS = 1_000_000_000L;

    private final JobStore store;
    private final JobEvents events;
    private final Limits limits;
    private final Path dataDir;
    private final long minFreeDiskBytes;
    private final LinkedHashMap<String, ActiveJob> queued = new LinkedHashMap<>();
    private final Map<String, ActiveJob> running = new LinkedHashMap<>();
    private final Map<String, List<CompletableFuture<JobRecord>>> waiters = new HashMap<>();
    private final Object storeWrites = new Object();
    /**
     * Smoothed milliseconds per unit of work (one step on a 512x512 image) over all jobs: the
     * estimate for a job of a shape not measured yet. Per-pixel cost falls as images grow (fixed
     * costs per step), so a job's own and its shape's measured step times come first.
     */
    private double msPerUnit = Double.NaN;
    /** Smoothed milliseconds per step of each job shape seen, the most recently measured {@link #MEASURED_SHAPES} kept. */
    private final Map<StepShape, Double> msPerStepByShape = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<StepShape, Double> eldest) {
            return size() > MEASURED_SHAPES;
        }
    };
    private boolean closed;
    private long usableBytes;
    private long usableCheckedAt;
    private long stepsDone;
    private long stepMillisTotal;
    private long jobsFinished;
    private long jobMillisTotal;
    private long imagesGenerated;

    /**
     * Counters since the service started, for {@code /metrics}.
     *
     * @param queueDepth jobs waiting now
     * @param running jobs running now
     * @param stepsDone denoising steps done
     * @param stepMillisTotal time spent in those steps
     * @param jobsFinished jobs that ran and ended (any final state)
     * @param jobMillisTotal their running time
     * @param imagesGenerated images stored
     */
    public record Stats(int queueDepth, int running, long stepsDone, long stepMillisTotal, long jobsFinished, long jobMillisTotal,
            long imagesGenerated) {}

    public JobQueue(JobStore store, JobEvents events, Limits limits, Path dataDir, long minFreeDiskBytes) {
        this.store = store;
        this.events = events;
        this.limits = limits;
        this.dataDir = dataDir;
        this.minFreeDiskBytes = minFreeDiskBytes;
    }

    /**
     * Loads the jobs that were queued, or running when the service stopped, back into the queue;
     * a job left running that restarts have now interrupted {@link Limits#maxJobRestarts()} times
     * fails instead (it may be what brought the service down). Returns how many jobs are queued.
     */
    public synchronized int restore() throws SQLException {
        JobStore.Recovery recovery = store.recoverQueued(limits.maxJobRestarts(), System.currentTimeMillis());
        for (String id : recovery.failed()) {
            JobRecord failed = store.find(id).orElseThrow();
            events.publish(id, JobState.FAILED.wireName(), JSON.createObjectNode().set("error",
                    JSON.createObjectNode().put("code", failed.errorCode()).put("message", failed.errorMessage())));
        }
        for (JobRecord job : recovery.queued()) {
            // a job restored from the last run has lost the client that waited for it: its images go to the gallery
            queued.put(job.id(), new ActiveJob(job.id(), job.params(), job.createdAt(), job.requeued(), true));
        }
        return recovery.queued().size();
    }

    /**
     * Accepts a job.
     *
     * @throws RequestException 429 when the queue is full, 507 when the data directory is short of space, 503 when shutting down
     */
    public ActiveJob submit(GenerationParams params) {
        return submitAll(List.of(params)).get(0);
    }

    /**
     * Accepts several jobs at once, all or none: each is stored before any is queued. Only writers
     * add jobs and they hold {@link #storeWrites}, so the room checked here is still there when the
     * jobs go in.
     */
    public List<ActiveJob> submitAll(List<GenerationParams> params) {
        return submitAll(params, true);
    }

    /**
     * Accepts several jobs at once, all or none, as {@link #submitAll(List)}.
     *
     * @param saveToGallery whether their images are stored in the gallery; when false the worker leaves them on
     *                      the {@link ActiveJob} ({@link ActiveJob#unsavedResult()}) for the caller alone
     */
    public List<ActiveJob> submitAll(List<GenerationParams> params, boolean saveToGallery) {
        synchronized (storeWrites) {
            synchronized (this) {
                if (closed) {
                    throw new RequestException(503, "shutting_down", "the service is shutting down", null);
                }
                if (queued.size() + params.size() > limits.queueSize()) {
                    long retryAfter = Math.max(1, (etaAheadMs(1) + 999) / 1000);
                    throw new RequestException(429, "queue_full", "the queue is full (" + limits.queueSize() + " jobs); retry later",
                            null, retryAfter);
                }
            }
            checkDiskSpace();
            List<ActiveJob> accepted = new ArrayList<>();
            long now = System.currentTimeMillis();
            for (GenerationParams p : params) {
                ActiveJob job = new ActiveJob(Ids.newId(), p, now, 0, saveToGallery);
                try {
                    store.insert(job.id(), p, now);
                } catch (SQLException e) {
                    throw new IllegalStateException("cannot store job " + job.id() + ": " + e.getMessage(), e);
                }
                accepted.add(job);
            }
            synchronized (this) {
                accepted.forEach(job -> queued.put(job.id(), job));
                accepted.forEach(this::publishQueued);
                notifyAll();
            }
            return accepted;
        }
    }

    /** Blocks until a job is queued and returns the oldest, now running; returns null once the queue is closed. */
    public ActiveJob take() throws InterruptedException {
        while (true) {
            synchronized (this) {
                while (!closed && queued.isEmpty()) {
                    wait();
                }
                if (closed) {
                    return null;
                }
            }
            Optional<ActiveJob> started = takeMatching(params -> true);
            if (started.isPresent()) {
                return started.get();
            }
            // another worker took it, or it was cancelled, between the two locks: wait again
        }
    }

    /** The oldest queued job whose params match, now running, or empty; never blocks on other jobs. */
    public Optional<ActiveJob> takeMatching(Predicate<GenerationParams> compatible) {
        synchronized (storeWrites) {
            ActiveJob job;
            synchronized (this) {
                if (closed) {
                    return Optional.empty();
                }
                job = queued.values().stream().filter(j -> compatible.test(j.params())).findFirst().orElse(null);
                if (job == null) {
                    return Optional.empty();
                }
            }
            long now = System.currentTimeMillis();
            try {
                store.markRunning(job.id(), now);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot mark job " + job.id() + " running: " + e.getMessage(), e);
            }
            synchronized (this) {
                queued.remove(job.id());
                job.state(JobState.RUNNING);
                job.started(now);
                running.put(job.id(), job);
                events.publish(job.id(), "running", JSON.createObjectNode().put("total", job.params().steps()));
                for (ActiveJob waiting : queued.values()) {
                    publishQueued(waiting);
                }
            }
            return Optional.of(job);
        }
    }

    /** Records a finished step of a running job and how long it took. */
    public void stepDone(ActiveJob job, int step, int total, long stepMillis) {
        ObjectNode data;
        synchronized (this) {
            stepsDone++;
            stepMillisTotal += stepMillis;
            job.stepTaken(step, total, smoothed(job.msPerStep(), stepMillis));
            msPerStepByShape.merge(StepShape.of(job.params()), (double) stepMillis, (old, now) -> smoothed(old, now));
            msPerUnit = smoothed(msPerUnit, stepMillis / (units(job.params()) / job.params().steps()));
            data = JSON.createObjectNode().put("step", step).put("total", total);
            Long eta = remainingMs(job);
            if (eta != null) {
                data.put("eta_ms", eta);
            }
        }
        events.publish(job.id(), "progress", data);
    }

    /** Publishes a preview image of a running job. */
    public void preview(ActiveJob job, int step, byte[] png) {
        job.lastPreview(png);
        events.publish(job.id(), "preview", JSON.createObjectNode().put("step", step)
                .put("png", java.util.Base64.getEncoder().encodeToString(png)));
    }

    /** Ends a running job as succeeded (with its images), failed (with an error) or cancelled. */
    public void finish(ActiveJob job, JobState state, List<String> imageIds, String errorCode, String errorMessage) {
        synchronized (storeWrites) {
            long now = System.currentTimeMillis();
            try {
                store.markFinished(job.id(), state, now, imageIds, errorCode, errorMessage);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot record the end of job " + job.id() + ": " + e.getMessage(), e);
            }
            ObjectNode data = JSON.createObjectNode();
            if (state == JobState.SUCCEEDED) {
                data.set("images", JSON.valueToTree(imageIds));
            } else if (state == JobState.FAILED) {
                data.putObject("error").put("code", errorCode).put("message", errorMessage);
            }
            synchronized (this) {
                running.remove(job.id());
                job.state(state);
                jobsFinished++;
                jobMillisTotal += now - job.startedAt();
                imagesGenerated += imageIds.size();
                events.publish(job.id(), state.wireName(), data);
            }
            completeWaiters(job.id());
        }
    }

    /** Puts a running job back at the head of the queue (the service is stopping). */
    public void requeue(ActiveJob job) {
        synchronized (storeWrites) {
            try {
                store.requeue(job.id());
            } catch (SQLException e) {
                throw new IllegalStateException("cannot re-queue job " + job.id() + ": " + e.getMessage(), e);
            }
            synchronized (this) {
                running.remove(job.id());
                job.state(JobState.QUEUED);
                job.markRequeued();
                LinkedHashMap<String, ActiveJob> rest = new LinkedHashMap<>(queued);
                queued.clear();
                queued.put(job.id(), job);
                queued.putAll(rest);
            }
        }
    }

    /**
     * Cancels a job: a queued one at once, a running one within the layer of the U-Net or VAE pass it is in.
     *
     * @throws RequestException 404 for an unknown id, 409 when the job is already finished
     */
    public JobState cancel(String id) {
        synchronized (storeWrites) {
            synchronized (this) {
                ActiveJob job = running.get(id);
                if (job != null) {
                    job.requestCancel();
                    return JobState.RUNNING;
                }
            }
            if (isQueued(id)) {
                try {
                    store.markFinished(id, JobState.CANCELLED, System.currentTimeMillis(), List.of(), null, null);
                } catch (SQLException e) {
                    throw new IllegalStateException("cannot cancel job " + id + ": " + e.getMessage(), e);
                }
                synchronized (this) {
                    queued.remove(id).state(JobState.CANCELLED);
                    events.publish(id, "cancelled", JSON.createObjectNode());
                    for (ActiveJob other : queued.values()) {
                        publishQueued(other);
                    }
                }
                completeWaiters(id);
                return JobState.CANCELLED;
            }
        }
        JobRecord stored = find(id).orElseThrow(() -> RequestException.notFound("job " + id));
        throw new RequestException(409, "job_finished", "job " + id + " is already " + stored.state().wireName(), null);
    }

    /**
     * Cancels several jobs at once (a batch): the queued ones at once and in one write, the running ones
     * as {@link #cancel} does; finished and unknown ids are left alone.
     *
     * @return how many of them were running (they end as cancelled within the layer they are in)
     */
    @Override
    public int cancelAll(Collection<String> ids) {
        List<String> cancelled = new ArrayList<>();
        int stopping = 0;
        synchronized (storeWrites) {
            synchronized (this) {
                for (String id : ids) {
                    ActiveJob job = running.get(id);
                    if (job != null) {
                        job.requestCancel();
                        stopping++;
                    } else if (queued.containsKey(id)) {
                        cancelled.add(id);
                    }
                }
            }
            if (!cancelled.isEmpty()) {
                try {
                    store.markCancelled(cancelled, System.currentTimeMillis());
                } catch (SQLException e) {
                    throw new IllegalStateException("cannot cancel " + cancelled.size() + " jobs: " + e.getMessage(), e);
                }
                synchronized (this) {
                    for (String id : cancelled) {
                        queued.remove(id).state(JobState.CANCELLED);
                        events.publish(id, "cancelled", JSON.createObjectNode());
                    }
                    queued.values().forEach(this::publishQueued);
                }
            }
        }
        cancelled.forEach(this::completeWaiters);
        return stopping;
    }

    /**
     * Notes that a client watches a job through the native API ({@code GET /api/v1/jobs/{id}} or
     * its event stream), so that {@link #abandon} leaves it alone. Unknown or finished ids are ignored.
     */
    public synchronized void watch(String id) {
        ActiveJob job = queued.containsKey(id) ? queued.get(id) : running.get(id);
        if (job != null) {
            job.markWatched();
        }
    }

    /**
     * Cancels a job whose synchronous client (A1111, OpenAI) went away before its answer, unless
     * a client watches it through the native API ({@link #watch}); returns whether it cancelled.
     * A job that has finished meanwhile is left as it ended.
     */
    public boolean abandon(String id) {
        synchronized (this) {
            ActiveJob job = queued.containsKey(id) ? queued.get(id) : running.get(id);
            if (job == null || job.watched()) {
                return false;
            }
        }
        try {
            cancel(id);
            return true;
        } catch (RequestException finishedMeanwhile) {
            return false;
        }
    }

    private synchronized boolean isQueued(String id) {
        return queued.containsKey(id);
    }

    /**
     * Asks a running job to stop denoising at its next step and finish with its images as they
     * stand (A1111's interrupt and skip); returns whether it was running.
     */
    public synchronized boolean finishEarly(String id) {
        ActiveJob job = running.get(id);
        if (job == null) {
            return false;
        }
        job.requestFinishEarly();
        return true;
    }

    /** The job, from memory while active, else from the store. */
    public Optional<JobRecord> find(String id) {
        synchronized (this) {
            ActiveJob job = queued.containsKey(id) ? queued.get(id) : running.get(id);
            if (job != null) {
                return Optional.of(job.toRecord());
            }
        }
        try {
            return store.find(id);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read job " + id + ": " + e.getMessage(), e);
        }
    }

    /** The running jobs, then the queued ones in order. */
    public synchronized List<JobRecord> active() {
        List<JobRecord> jobs = new ArrayList<>();
        running.values().forEach(job -> jobs.add(job.toRecord()));
        queued.values().forEach(job -> jobs.add(job.toRecord()));
        return jobs;
    }

    /** The most recently finished jobs, newest first, from the store. */
    public List<JobRecord> recentFinished(int limit) {
        try {
            return store.recentFinished(limit);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list jobs: " + e.getMessage(), e);
        }
    }

    @Override
    public List<JobStore.PromptUse> recentPrompts(String contains, int limit) {
        try {
            return store.recentPrompts(contains, limit);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list prompts: " + e.getMessage(), e);
        }
    }

    /** The running jobs. */
    public synchronized List<ActiveJob> runningJobs() {
        return List.copyOf(running.values());
    }

    /** 1-based place in the queue of a queued job, 0 for a running job, -1 for any other. */
    public synchronized int position(String id) {
        if (running.containsKey(id)) {
            return 0;
        }
        int position = 1;
        for (String queuedId : queued.keySet()) {
            if (queuedId.equals(id)) {
                return position;
            }
            position++;
        }
        return -1;
    }

    /** Estimated milliseconds until the job finishes, or null before any step was measured or once it is over. */
    public synchronized Long etaMs(String id) {
        if (Double.isNaN(msPerUnit)) {
            return null;
        }
        ActiveJob job = running.get(id);
        if (job != null) {
            return remainingMs(job);
        }
        int position = position(id);
        return position < 1 ? null : etaAheadMs(position) + Math.round(queuedMs(queued.get(id).params()));
    }

    /**
     * Estimated milliseconds until all of these jobs have finished (a batch's time left): the time of the
     * one last in the queue, else of the slowest running one; null as {@link #etaMs(String)}, or when none is active.
     */
    @Override
    public synchronized Long etaMs(Collection<String> ids) {
        Set<String> wanted = new HashSet<>(ids);
        String last = null;
        for (String id : queued.keySet()) {
            if (wanted.contains(id)) {
                last = id;
            }
        }
        if (last != null) {
            return etaMs(last);
        }
        Long slowest = null;
        for (String id : running.keySet()) {
            Long eta = wanted.contains(id) ? etaMs(id) : null;
            if (eta != null && (slowest == null || eta > slowest)) {
                slowest = eta;
            }
        }
        return slowest;
    }

    /** Counters for monitoring. */
    public synchronized Stats stats() {
        return new Stats(queued.size(), running.size(), stepsDone, stepMillisTotal, jobsFinished, jobMillisTotal, imagesGenerated);
    }

    /** Number of queued jobs. */
    public synchronized int depth() {
        return queued.size();
    }

    /** Completes when the job is finished, with its final record. */
    public CompletableFuture<JobRecord> completion(String id) {
        CompletableFuture<JobRecord> future = new CompletableFuture<>();
        synchronized (this) {
            if (queued.containsKey(id) || running.containsKey(id)) {
                waiters.computeIfAbsent(id, k -> new ArrayList<>()).add(future);
                return future;
            }
        }
        find(id).ifPresentOrElse(future::complete, () -> future.completeExceptionally(RequestException.notFound("job " + id)));
        return future;
    }

    /** Stops handing out jobs; {@link #take()} returns null from now on. */
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Whether {@link #close()} was called. */
    public synchronized boolean isClosed() {
        return closed;
    }

    private void checkDiskSpace() {
        long now = System.nanoTime();
        if (now - usableCheckedAt > DISK_CHECK_INTERVAL_NANOS || usableBytes < minFreeDiskBytes) {
            try {
                usableBytes = Files.getFileStore(Files.createDirectories(dataDir)).getUsableSpace();
            } catch (IOException e) {
                throw new IllegalStateException("cannot check free space in " + dataDir + ": " + e.getMessage(), e);
            }
            usableCheckedAt = now;
        }
        long usable = usableBytes;
        if (usable < minFreeDiskBytes) {
            throw new RequestException(507, "insufficient_storage", "the data directory has " + usable / (1 << 20)
                    + " MiB free, below the configured minimum of " + minFreeDiskBytes / (1 << 20) + " MiB", null);
        }
    }

    /** Completes the futures waiting on a job that has left memory, with its stored record; called without the queue's lock. */
    private void completeWaiters(String id) {
        List<CompletableFuture<JobRecord>> futures;
        synchronized (this) {
            futures = waiters.remove(id);
        }
        if (futures != null) {
            JobRecord record = find(id).orElseThrow();
            futures.forEach(f -> f.complete(record));
        }
    }

    private void publishQueued(ActiveJob job) {
        ObjectNode data = JSON.createObjectNode().put("position", position(job.id()));
        Long eta = etaMs(job.id());
        if (eta != null) {
            data.put("eta_ms", eta);
        }
        events.publish(job.id(), "queued", data);
    }

    /** Estimated milliseconds of work before the queued job at {@code position} can start. */
    private long etaAheadMs(int position) {
        if (Double.isNaN(msPerUnit)) {
            return 0;
        }
        double ms = 0;
        for (ActiveJob job : running.values()) {
            ms += remainingMs(job);
        }
        Iterator<ActiveJob> ahead = queued.values().iterator();
        for (int i = 1; i < position && ahead.hasNext(); i++) {
            ms += queuedMs(ahead.next().params());
        }
        return Math.round(ms);
    }

    /** A running job's time left: its remaining steps at its own measured speed (its shape's before its first step). */
    private Long remainingMs(ActiveJob job) {
        if (Double.isNaN(msPerUnit)) {
            return null;
        }
        double perStep = Double.isNaN(job.msPerStep()) ? msPerStep(job.params()) : job.msPerStep();
        return Math.round(Math.max(0, job.totalSteps() - job.step()) * perStep);
    }

    /** A queued job's whole running time. */
    private double queuedMs(GenerationParams params) {
        return params.steps() * msPerStep(params);
    }

    /** Expected milliseconds per step: as measured for jobs of the same shape, else scaled by area from all jobs. */
    private double msPerStep(GenerationParams params) {
        Double measured = msPerStepByShape.get(StepShape.of(params));
        return measured != null ? measured : units(params) / params.steps() * msPerUnit;
    }

    private static double smoothed(double average, double sample) {
        return Double.isNaN(average) ? sample : average + SPEED_SMOOTHING * (sample - average);
    }

    /**
     * What a step's time depends on: jobs with equal shapes take about as long per step (with step
     * caching, on average over the full and the shallow steps).
     */
    private record StepShape(String model, int width, int height, int images, boolean guided, int cacheInterval) {
        static StepShape of(GenerationParams params) {
            return new StepShape(params.model(), params.width(), params.height(), params.n(), params.guidanceScale() > 1,
                    params.cacheInterval());
        }
    }

    private static double units(GenerationParams p) {
        return (double) p.steps() * p.n() * p.width() * p.height() / UNIT_PIXELS;
    }
}
