package daguerre.server.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.StepListener;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker node's job runner: threads (one per job the engine runs at once, so that step-level
 * batching stays within this worker) that claim jobs from the shared queue with a lease
 * ({@code --lease-seconds}), run them on the engine, renew the lease every third of it while they
 * run, publish progress (with an ETA from this worker's measured step times), previews and the end
 * on the clustered event bus, and complete the job in the transaction that indexes its images (or,
 * for a job whose images are not saved to the gallery, keeps them for the waiting client). A
 * cancel arrives on the bus (or, should that message be lost, at the next renewal); a lost lease
 * stops the job and discards what it made.
 */
public final class ClusterWorker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterWorker.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long POLL_MILLIS = 500;
    /** Pixels of a 512x512 image: the unit of work is one step on one such image. */
    private static final double UNIT_PIXELS = 512.0 * 512.0;
    private static final double SPEED_SMOOTHING = 0.2;

    private final ClusterMembership cluster;
    private final PgJobs jobs;
    private final ClusterGallery gallery;
    private final ImageEngine engine;
    private final int previewEvery;
    private final long leaseMillis;
    private final List<String> models;
    private final List<Thread> threads = new java.util.ArrayList<>();
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    private final ScheduledExecutorService renewals = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "daguerre-lease-renewal");
        t.setDaemon(true);
        return t;
    });
    private final Object wake = new Object();
    private final AtomicInteger finished = new AtomicInteger();
    /** Smoothed milliseconds per unit of work ({@link #units}) over this worker's steps; NaN before the first. */
    private double msPerUnit = Double.NaN;
    private volatile boolean stopping;

    /** A job this worker runs. */
    private static final class Running {
        final String id;
        final String token;
        volatile int step;
        volatile boolean cancel;
        volatile boolean finishEarly;
        volatile boolean lost;
        /** This job's smoothed milliseconds per step, NaN before its first. */
        double msPerStep = Double.NaN;

        Running(String id, String token) {
            this.id = id;
            this.token = token;
        }
    }

    /**
     * @param leaseMillis how long a claim holds a job without renewal; renewed every third of it
     */
    public ClusterWorker(ClusterMembership cluster, PgJobs jobs, ClusterGallery gallery, ImageEngine engine, int previewEvery,
            long leaseMillis) {
        this.cluster = cluster;
        this.jobs = jobs;
        this.gallery = gallery;
        this.engine = engine;
        this.previewEvery = previewEvery;
        this.leaseMillis = leaseMillis;
        this.models = engine.models().stream().map(ModelDescriptor::id).toList();
        cluster.vertx().eventBus().<String>consumer(ClusterMembership.CANCEL_ADDRESS, message -> {
            Running job = running.get(ClusterMembership.parse(message.body()).path("job_id").asText());
            if (job != null) {
                job.cancel = true;
            }
        });
        cluster.vertx().eventBus().<String>consumer(ClusterMembership.FINISH_EARLY_ADDRESS, message -> {
            Running job = running.get(ClusterMembership.parse(message.body()).path("job_id").asText());
            if (job != null) {
                job.finishEarly = true;
            }
        });
        cluster.vertx().eventBus().<String>consumer(ClusterMembership.QUEUED_ADDRESS, message -> {
            synchronized (wake) {
                wake.notifyAll();
            }
        });
        for (int i = 0; i < Math.max(1, engine.concurrentJobs()); i++) {
            Thread thread = new Thread(this::loop, "daguerre-cluster-worker-" + i);
            thread.setDaemon(true);
            threads.add(thread);
        }
        long renewMillis = Math.max(1, leaseMillis / 3);
        renewals.scheduleWithFixedDelay(this::renewAll, renewMillis, renewMillis, TimeUnit.MILLISECONDS);
    }

    /** The model ids this worker serves. */
    public List<String> models() {
        return models;
    }

    /** The ids of the jobs running here now. */
    public List<String> runningJobs() {
        return List.copyOf(running.keySet());
    }

    /** How many jobs this worker runs at once. */
    public int slots() {
        return threads.size();
    }

    /** This worker's measured milliseconds per step of one 512x512 image, smoothed; NaN before its first step. */
    public synchronized double msPerUnit() {
        return msPerUnit;
    }

    /** The work of one step of a job, in steps of one 512x512 image (the unit of {@link #msPerUnit()}). */
    public static double units(GenerationParams params) {
        return params.n() * (double) params.width() * params.height() / UNIT_PIXELS;
    }

    /** Jobs this worker ended since it started. */
    public int finishedJobs() {
        return finished.get();
    }

    public void start() {
        threads.forEach(Thread::start);
    }

    private void loop() {
        String lastModel = null;
        while (!stopping) {
            Optional<PgJobs.ClusterJob> claimed;
            String token = token();
            try {
                claimed = jobs.claim(cluster.nodeId(), models, lastModel, token, leaseMillis, System.currentTimeMillis());
            } catch (SQLException | RuntimeException e) {
                LOG.warn("cannot claim a job (the database may be restarting): {}", e.getMessage());
                claimed = Optional.empty();
                sleep(POLL_MILLIS * 4);
                continue;
            }
            if (claimed.isEmpty()) {
                synchronized (wake) {
                    try {
                        wake.wait(POLL_MILLIS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                continue;
            }
            PgJobs.ClusterJob job = claimed.get();
            lastModel = job.record().params().model();
            run(job, token);
        }
    }

    private void run(PgJobs.ClusterJob job, String token) {
        String id = job.id();
        GenerationParams params = job.record().params();
        Running state = new Running(id, token);
        running.put(id, state);
        LOG.info("job {} claimed by worker {}", id, cluster.nodeId());
        publish(id, "running", JSON.createObjectNode().put("total", params.steps()));
        long[] lastStep = {System.nanoTime()};
        StepListener listener = new StepListener() {
            @Override
            public void onStep(int step, int total, byte[] previewPng) {
                long now = System.nanoTime();
                state.step = step;
                if (previewPng != null) {
                    publish(id, "preview", JSON.createObjectNode().put("step", step)
                            .put("png", Base64.getEncoder().encodeToString(previewPng)));
                }
                long eta = stepDone(state, params, (now - lastStep[0]) / 1e6, total - step);
                lastStep[0] = now;
                publish(id, "progress", JSON.createObjectNode().put("step", step).put("total", total).put("eta_ms", eta));
            }

            @Override
            public boolean wantsPreview(int step) {
                return previewEvery > 0 && step % previewEvery == 0 && step < params.steps();
            }
        };
        try {
            try {
                if (jobs.cancelRequested(id)) {
                    state.cancel = true;
                }
            } catch (SQLException e) {
                LOG.warn("job {}: cannot read its cancel flag now ({}); the next renewal reads it", id, e.getMessage());
            }
            EngineResult result = engine.generate(params, listener, () -> stopping || state.cancel || state.lost,
                    () -> state.finishEarly);
            ClusterGallery.Staged staged = job.saveToGallery() ? gallery.stage(id, cluster.nodeId(), token, params, result)
                    : gallery.unsaved(id, result);
            boolean completed;
            try {
                completed = !state.lost && jobs.complete(id, token, JobState.SUCCEEDED, System.currentTimeMillis(), staged.ids(),
                        null, null, staged::commit);
            } catch (SQLException e) {
                // the database is away (restarting?): the job stays leased to this worker, which stops renewing it, so
                // the lease expires and the job runs again; its image ids are derived from the job id, so no duplicate
                staged.discard();
                LOG.warn("job {}: cannot record its end ({}); it runs again once its lease expires", id, e.getMessage());
                return;
            } catch (RuntimeException e) {
                staged.discard();
                throw e;
            }
            if (completed) {
                publish(id, "succeeded", JSON.createObjectNode().set("images", JSON.valueToTree(staged.ids())));
            } else {
                staged.discard();
                LOG.warn("job {}: this worker lost its lease; its late result is discarded", id);
            }
        } catch (CancellationException e) {
            if (state.lost) {
                LOG.warn("job {}: this worker lost its lease; stopped", id);
            } else if (state.cancel) {
                end(id, token, JobState.CANCELLED, null, null);
            } else {
                release(id, token);
            }
        } catch (Exception | OutOfMemoryError e) {
            LOG.warn("job {} failed", id, e);
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            end(id, token, JobState.FAILED, e instanceof OutOfMemoryError ? "out_of_memory" : "generation_failed", message);
        } finally {
            running.remove(id);
            finished.incrementAndGet();
        }
    }

    /** Records a step's time for this worker's and the job's speed; returns the job's estimated milliseconds left. */
    private synchronized long stepDone(Running job, GenerationParams params, double stepMillis, int stepsLeft) {
        job.msPerStep = smoothed(job.msPerStep, stepMillis);
        msPerUnit = smoothed(msPerUnit, stepMillis / units(params));
        return Math.round(Math.max(0, stepsLeft) * job.msPerStep);
    }

    private static double smoothed(double average, double sample) {
        return Double.isNaN(average) ? sample : average + SPEED_SMOOTHING * (sample - average);
    }

    private void end(String id, String token, JobState state, String errorCode, String errorMessage) {
        try {
            if (jobs.complete(id, token, state, System.currentTimeMillis(), List.of(), errorCode, errorMessage, c -> {})) {
                ObjectNode data = JSON.createObjectNode();
                if (state == JobState.FAILED) {
                    data.putObject("error").put("code", errorCode).put("message", errorMessage);
                }
                publish(id, state.wireName(), data);
            }
        } catch (SQLException e) {
            LOG.warn("cannot record the end of job {} (its lease will expire and it runs again): {}", id, e.getMessage());
        }
    }

    private void release(String id, String token) {
        try {
            if (jobs.release(id, token)) {
                publish(id, "queued", JSON.createObjectNode().put("position", 1));
            }
        } catch (SQLException e) {
            LOG.warn("cannot put job {} back in the queue (its lease will expire instead): {}", id, e.getMessage());
        }
    }

    /** Renews every running job's lease; a lost one is stopped, a cancel request seen here is passed on. */
    private void renewAll() {
        for (Running job : running.values()) {
            try {
                PgJobs.Renewal renewal = jobs.renew(job.id, job.token, job.step, leaseMillis);
                if (renewal == PgJobs.Renewal.LOST) {
                    job.lost = true;
                } else if (renewal == PgJobs.Renewal.CANCEL_REQUESTED) {
                    job.cancel = true;
                }
            } catch (SQLException | RuntimeException e) {
                LOG.warn("cannot renew the lease of job {} (the database may be restarting): {}", job.id, e.getMessage());
            }
        }
    }

    private void publish(String jobId, String event, ObjectNode data) {
        cluster.publishJobEvent(jobId, event, data, cluster.nodeId());
    }

    private static String token() {
        byte[] bytes = new byte[12];
        RANDOM.nextBytes(bytes);
        return java.util.HexFormat.of().formatHex(bytes);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops claiming, stops the running jobs within a layer and puts them back in the queue; waits up to {@code millis}. */
    public void stop(long millis) throws InterruptedException {
        stopping = true;
        synchronized (wake) {
            wake.notifyAll();
        }
        long deadline = System.currentTimeMillis() + millis;
        for (Thread thread : threads) {
            thread.join(Math.max(1, deadline - System.currentTimeMillis()));
        }
        renewals.shutdownNow();
    }

    @Override
    public void close() throws InterruptedException {
        stop(30_000);
    }
}
