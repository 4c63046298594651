package daguerre.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobService;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.JobStore;
import daguerre.server.jobs.Limits;
import daguerre.server.jobs.RequestException;
import io.vertx.core.Vertx;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An api node's view of the queue every node shares in PostgreSQL, as the HTTP routes use it
 * ({@link JobService}): jobs are inserted here and run by workers on other machines. What the
 * database holds is the truth (states, positions, results); the event bus adds what changes
 * between renewals (the step, previews, ETAs) and says when a job ends, and a poll every second
 * finds the ends of waited-for jobs whose event was missed.
 *
 * <p>ETAs come from what the cluster knows: a running job's worker sends its own estimate with
 * each progress event (its remaining steps at the job's measured step time), and every worker's
 * heartbeat carries its measured time per step of one 512x512 image ({@code ms_per_unit}) and how
 * many jobs it runs at once ({@code slots}). A queued job's ETA is the work ahead of it (what the
 * running jobs have left, plus the queued jobs before it at the workers' mean speed) spread over
 * the live workers' slots, plus its own running time. Null until some worker has measured a step.
 */
public final class ClusterQueue implements JobService {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The active jobs are read again after this long (and at once after any job event). */
    private static final long SNAPSHOT_MILLIS = 1000;
    private static final long POLL_MILLIS = 1000;
    private static final int REMEMBERED_WORKERS = 10_000;

    private final ClusterMembership cluster;
    private final PgJobs jobs;
    private final Limits limits;
    /** What this node follows of jobs from the bus: the ones it submitted or saw events of, until they end. */
    private final Map<String, Followed> followed = new ConcurrentHashMap<>();
    /** The futures of {@link #completion}, by job; each list is the lock of its job's end. */
    private final Map<String, List<CompletableFuture<JobRecord>>> waiting = new ConcurrentHashMap<>();
    /** The jobs submitted here whose images are not saved to the gallery, until their images are taken. */
    private final Map<String, Followed> unsaved = new ConcurrentHashMap<>();
    /** The worker of each job recently read, for its view. */
    private final Map<String, String> workers = Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > REMEMBERED_WORKERS;
        }
    });
    private volatile Snapshot snapshot;
    private volatile boolean closed;

    private record Snapshot(long at, List<PgJobs.ClusterJob> jobs) {}

    /** A job as this node follows it. */
    private static final class Followed implements JobHandle {
        final String id;
        final int steps;
        volatile JobState state = JobState.QUEUED;
        volatile int step;
        volatile int total;
        volatile byte[] preview;
        /** The worker's latest estimate of the time left, and when it arrived (nanoTime); null before one. */
        volatile Long etaMs;
        volatile long etaAt;
        volatile boolean cancelRequested;
        volatile boolean finishEarlyRequested;
        volatile EngineResult unsaved;

        Followed(String id, int steps) {
            this.id = id;
            this.steps = steps;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public JobState state() {
            return state;
        }

        @Override
        public int step() {
            return step;
        }

        @Override
        public int totalSteps() {
            return total > 0 ? total : steps;
        }

        @Override
        public byte[] lastPreview() {
            return preview;
        }

        @Override
        public boolean cancelRequested() {
            return cancelRequested;
        }

        @Override
        public boolean finishEarlyRequested() {
            return finishEarlyRequested;
        }

        @Override
        public EngineResult unsavedResult() {
            return unsaved;
        }
    }

    public ClusterQueue(ClusterMembership cluster, PgJobs jobs, Limits limits) {
        this.cluster = cluster;
        this.jobs = jobs;
        this.limits = limits;
    }

    /** Follows the job events this node receives on {@code localEvents}, and polls for the ends of waited-for jobs. */
    public void start(String localEvents) {
        Vertx vertx = cluster.vertx();
        vertx.eventBus().<String>localConsumer(localEvents, message -> onEvent(ClusterMembership.parse(message.body())));
        vertx.setPeriodic(POLL_MILLIS, timer -> {
            for (String id : waiting.keySet()) {
                vertx.executeBlocking(() -> {
                    checkFinished(id);
                    return null;
                }, false);
            }
        });
    }

    /** Refuses new jobs from now on (the node is stopping). */
    public void close() {
        closed = true;
    }

    private void onEvent(JsonNode envelope) {
        String id = envelope.path("job_id").asText();
        String event = envelope.path("event").asText();
        JsonNode data = envelope.path("data");
        Followed job = followed.get(id);
        switch (event) {
            case "progress" -> {
                Followed running = followed.computeIfAbsent(id, k -> new Followed(id, data.path("total").asInt()));
                running.state = JobState.RUNNING;
                running.step = data.path("step").asInt();
                running.total = data.path("total").asInt();
                if (data.hasNonNull("eta_ms")) {
                    running.etaMs = data.get("eta_ms").asLong();
                    running.etaAt = System.nanoTime();
                }
                return;
            }
            case "preview" -> {
                if (job != null && data.hasNonNull("png")) {
                    job.preview = Base64.getDecoder().decode(data.get("png").asText());
                }
                return;
            }
            case "queued" -> {
                if (job != null) {
                    job.state = JobState.QUEUED;
                    job.step = 0;
                    job.etaMs = null;
                    job.preview = null;
                }
            }
            case "running" -> {
                if (job != null) {
                    job.state = JobState.RUNNING;
                    job.step = 0;
                    job.total = data.path("total").asInt();
                } else {
                    followed.computeIfAbsent(id, k -> new Followed(id, data.path("total").asInt())).state = JobState.RUNNING;
                }
            }
            default -> {
                // a final event
                if (waiting.containsKey(id)) {
                    cluster.vertx().executeBlocking(() -> {
                        checkFinished(id);
                        return null;
                    }, false);
                } else {
                    followed.remove(id);
                }
            }
        }
        snapshot = null;
    }

    /** Completes the futures waiting for {@code id} if it has ended, with its record (and, when unsaved, its images). */
    private void checkFinished(String id) {
        List<CompletableFuture<JobRecord>> futures = waiting.get(id);
        if (futures == null) {
            return;
        }
        synchronized (futures) {
            if (waiting.get(id) != futures) {
                return;   // completed meanwhile
            }
            try {
                Optional<PgJobs.ClusterJob> found = jobs.find(id);
                if (found.isPresent() && isActive(found.get().record().state())) {
                    return;
                }
                Followed handle = unsaved.get(id);
                if (handle != null && found.isPresent()) {
                    handle.unsaved = jobs.takeResults(id);
                }
                waiting.remove(id);
                unsaved.remove(id);
                followed.remove(id);
                for (CompletableFuture<JobRecord> future : futures) {
                    if (found.isEmpty()) {
                        future.completeExceptionally(RequestException.notFound("job " + id));
                    } else {
                        future.complete(found.get().record());
                    }
                }
            } catch (SQLException | RuntimeException e) {
                LOG.warn("cannot read the end of job {} (the database may be restarting; tried again in a second): {}", id,
                        e.getMessage());
            }
        }
    }

    private static boolean isActive(JobState state) {
        return state == JobState.QUEUED || state == JobState.RUNNING;
    }

    @Override
    public JobHandle submit(GenerationParams params) {
        return submitAll(List.of(params), true).get(0);
    }

    /**
     * Inserts the jobs, all or none, and announces them. The queue size is checked by a count
     * before the insert, so simultaneous submissions on several api nodes can overshoot it by a few.
     */
    @Override
    public List<? extends JobHandle> submitAll(List<GenerationParams> params, boolean saveToGallery) {
        if (closed) {
            throw new RequestException(503, "shutting_down", "the service is shutting down", null);
        }
        List<Followed> accepted = new ArrayList<>();
        List<PgJobs.NewJob> rows = new ArrayList<>();
        for (GenerationParams p : params) {
            Followed job = new Followed(Ids.newId(), p.steps());
            accepted.add(job);
            rows.add(new PgJobs.NewJob(job.id, p));
        }
        try {
            long queued = jobs.countByState().get(JobState.QUEUED);
            if (queued + params.size() > limits.queueSize()) {
                Long eta = etaMs(activeJobs(), null);
                throw new RequestException(429, "queue_full", "the queue is full (" + limits.queueSize() + " jobs); retry later", null,
                        eta == null ? 5L : Math.max(1, (eta + 999) / 1000));
            }
            jobs.insertAll(rows, System.currentTimeMillis(), saveToGallery);
        } catch (SQLException e) {
            throw unavailable(e);
        }
        for (Followed job : accepted) {
            followed.put(job.id, job);
            if (!saveToGallery) {
                unsaved.put(job.id, job);
            }
        }
        snapshot = null;
        for (Followed job : accepted) {
            cluster.publishJobEvent(job.id, "queued", JSON.createObjectNode().put("position", position(job.id)), null);
        }
        cluster.vertx().eventBus().publish(ClusterMembership.QUEUED_ADDRESS, "{}");
        return accepted;
    }

    @Override
    public Optional<JobRecord> find(String id) {
        if (!Ids.isValid(id)) {
            return Optional.empty();
        }
        try {
            return jobs.find(id).map(this::record);
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    /** One query for all of them (a batch's page of up to 1000 lines). */
    @Override
    public Map<String, JobRecord> findAll(Collection<String> ids) {
        List<String> valid = ids.stream().filter(Ids::isValid).distinct().toList();
        Map<String, JobRecord> found = new LinkedHashMap<>();
        if (valid.isEmpty()) {
            return found;
        }
        try {
            jobs.findAll(valid).forEach(job -> found.put(job.id(), record(job)));
        } catch (SQLException e) {
            throw unavailable(e);
        }
        return found;
    }

    @Override
    public List<JobRecord> active() {
        return activeJobs().stream().map(this::record).toList();
    }

    @Override
    public List<JobRecord> recentFinished(int limit) {
        try {
            return jobs.recentFinished(limit).stream().map(this::record).toList();
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    @Override
    public List<JobStore.PromptUse> recentPrompts(String contains, int limit) {
        try {
            return jobs.recentPrompts(contains, limit);
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    @Override
    public List<? extends JobHandle> runningJobs() {
        List<Followed> running = new ArrayList<>();
        for (PgJobs.ClusterJob job : activeJobs()) {
            if (job.record().state() == JobState.RUNNING) {
                Followed followedJob = followed.computeIfAbsent(job.id(), id -> new Followed(id, job.record().total()));
                followedJob.state = JobState.RUNNING;
                followedJob.step = Math.max(followedJob.step, job.record().step());
                running.add(followedJob);
            }
        }
        return running;
    }

    @Override
    public int position(String id) {
        int position = 1;
        for (PgJobs.ClusterJob job : activeJobs()) {
            if (job.record().state() == JobState.RUNNING) {
                if (job.id().equals(id)) {
                    return 0;
                }
                continue;
            }
            if (job.id().equals(id)) {
                return position;
            }
            position++;
        }
        return -1;
    }

    @Override
    public Long etaMs(String id) {
        return etaMs(activeJobs(), id);
    }

    /**
     * The ETA of job {@code id} among {@code active} (running first, then queued in order), or,
     * for a null id, the wait before a job added now could start; null when nothing was measured.
     */
    private Long etaMs(List<PgJobs.ClusterJob> active, String id) {
        double msPerUnit = 0;
        int measured = 0;
        int slots = 0;
        for (JsonNode node : cluster.liveNodes().values()) {
            if (node.path("models").isEmpty()) {
                continue;
            }
            slots += Math.max(1, node.path("slots").asInt(1));
            if (node.path("ms_per_unit").isNumber()) {
                msPerUnit += node.path("ms_per_unit").asDouble();
                measured++;
            }
        }
        double speed = measured == 0 ? Double.NaN : msPerUnit / measured;
        double ahead = 0;
        for (PgJobs.ClusterJob job : active) {
            JobRecord r = job.record();
            Double left = r.state() == JobState.RUNNING ? remainingMs(job, speed) : runningMs(r.params(), speed);
            if (job.id().equals(id)) {
                if (left == null) {
                    return null;
                }
                return r.state() == JobState.RUNNING ? Math.round(left) : Math.round(ahead / Math.max(1, slots) + left);
            }
            if (left == null) {
                return null;
            }
            ahead += left;
        }
        return id == null && !Double.isNaN(speed) ? Math.round(ahead / Math.max(1, slots)) : null;
    }

    /** A running job's time left: its worker's latest estimate, less the time since; else its steps left at the workers' speed. */
    private Double remainingMs(PgJobs.ClusterJob job, double msPerUnit) {
        Followed followedJob = followed.get(job.id());
        if (followedJob != null && followedJob.etaMs != null) {
            return Math.max(0, followedJob.etaMs - (System.nanoTime() - followedJob.etaAt) / 1e6);
        }
        if (Double.isNaN(msPerUnit)) {
            return null;
        }
        int step = followedJob != null ? Math.max(followedJob.step, job.record().step()) : job.record().step();
        return Math.max(0, job.record().total() - step) * ClusterWorker.units(job.record().params()) * msPerUnit;
    }

    /** A queued job's whole running time at the workers' speed, or null before any was measured. */
    private static Double runningMs(GenerationParams params, double msPerUnit) {
        return Double.isNaN(msPerUnit) ? null : params.steps() * ClusterWorker.units(params) * msPerUnit;
    }

    @Override
    public int depth() {
        return (int) activeJobs().stream().filter(job -> job.record().state() == JobState.QUEUED).count();
    }

    @Override
    public JobState cancel(String id) {
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("job " + id);
        }
        JobState state;
        try {
            state = jobs.cancel(id, System.currentTimeMillis()).orElseThrow(() -> RequestException.notFound("job " + id));
        } catch (SQLException e) {
            throw unavailable(e);
        }
        if (state == JobState.RUNNING) {
            Followed job = followed.get(id);
            if (job != null) {
                job.cancelRequested = true;
            }
            cluster.vertx().eventBus().publish(ClusterMembership.CANCEL_ADDRESS, JSON.createObjectNode().put("job_id", id).toString());
        } else if (state == JobState.CANCELLED) {
            snapshot = null;
            cluster.publishJobEvent(id, "cancelled", JSON.createObjectNode(), null);
        } else {
            throw new RequestException(409, "job_finished", "job " + id + " is already " + state.wireName(), null);
        }
        return state;
    }

    /** Cancels the jobs in one transaction; tells the streams of the queued ones and the workers of the running ones. */
    @Override
    public int cancelAll(Collection<String> ids) {
        List<String> valid = ids.stream().filter(Ids::isValid).distinct().toList();
        if (valid.isEmpty()) {
            return 0;
        }
        PgJobs.BulkCancel done;
        try {
            done = jobs.cancelAll(valid, System.currentTimeMillis());
        } catch (SQLException e) {
            throw unavailable(e);
        }
        for (String id : done.running()) {
            Followed job = followed.get(id);
            if (job != null) {
                job.cancelRequested = true;
            }
            cluster.vertx().eventBus().publish(ClusterMembership.CANCEL_ADDRESS, JSON.createObjectNode().put("job_id", id).toString());
        }
        if (!done.cancelled().isEmpty()) {
            snapshot = null;
        }
        for (String id : done.cancelled()) {
            cluster.publishJobEvent(id, "cancelled", JSON.createObjectNode(), null);
        }
        return done.running().size();
    }

    /** The ETA of the last of these jobs in the queue, else of the slowest running one, as {@link #etaMs(String)} gives them. */
    @Override
    public Long etaMs(Collection<String> ids) {
        Set<String> wanted = new HashSet<>(ids);
        List<PgJobs.ClusterJob> active = activeJobs();
        String lastQueued = null;
        for (PgJobs.ClusterJob job : active) {
            if (job.record().state() == JobState.QUEUED && wanted.contains(job.id())) {
                lastQueued = job.id();
            }
        }
        if (lastQueued != null) {
            return etaMs(active, lastQueued);
        }
        Long slowest = null;
        for (PgJobs.ClusterJob job : active) {
            Long eta = job.record().state() == JobState.RUNNING && wanted.contains(job.id()) ? etaMs(active, job.id()) : null;
            if (eta != null && (slowest == null || eta > slowest)) {
                slowest = eta;
            }
        }
        return slowest;
    }

    @Override
    public void watch(String id) {
        try {
            jobs.watch(id);
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    @Override
    public boolean abandon(String id) {
        try {
            if (jobs.watched(id)) {
                return false;
            }
            cancel(id);
            return true;
        } catch (SQLException e) {
            LOG.warn("cannot cancel job {}, whose client went away: {}", id, e.getMessage());
            return false;
        } catch (RequestException finishedMeanwhile) {
            return false;
        }
    }

    /** Asks the worker on the bus, if this node saw the job running (no database read: A1111's interrupt runs on the event loop). */
    @Override
    public boolean finishEarly(String id) {
        Followed job = followed.get(id);
        if (job == null || job.state != JobState.RUNNING) {
            return false;
        }
        job.finishEarlyRequested = true;
        cluster.vertx().eventBus().publish(ClusterMembership.FINISH_EARLY_ADDRESS, JSON.createObjectNode().put("job_id", id).toString());
        return true;
    }

    @Override
    public CompletableFuture<JobRecord> completion(String id) {
        CompletableFuture<JobRecord> future = new CompletableFuture<>();
        while (true) {
            List<CompletableFuture<JobRecord>> futures = waiting.computeIfAbsent(id, k -> new ArrayList<>());
            synchronized (futures) {
                if (waiting.get(id) == futures) {   // not completed and removed meanwhile
                    futures.add(future);
                    break;
                }
            }
        }
        checkFinished(id);
        return future;
    }

    /** {@code worker}: the node that runs or ran the job; {@code waiting_for}: why a queued job waits, when no live worker serves its model. */
    @Override
    public ObjectNode details(JobRecord job) {
        ObjectNode details = JSON.createObjectNode();
        details.put("worker", workers.get(job.id()));
        if (job.state() == JobState.QUEUED && !cluster.served(job.params().model())) {
            details.put("waiting_for", "no live worker serves model " + job.params().model() + "; the job waits for one");
        }
        return details;
    }

    /** The running, then the queued jobs, read at most {@link #SNAPSHOT_MILLIS} ago and since the last job event. */
    private List<PgJobs.ClusterJob> activeJobs() {
        Snapshot current = snapshot;
        if (current != null && System.currentTimeMillis() - current.at() < SNAPSHOT_MILLIS) {
            return current.jobs();
        }
        try {
            long at = System.currentTimeMillis();
            List<PgJobs.ClusterJob> active = jobs.active();
            active.forEach(this::remember);
            snapshot = new Snapshot(at, active);
            // jobs that ended without this node seeing their event
            java.util.Set<String> ids = new java.util.HashSet<>();
            active.forEach(job -> ids.add(job.id()));
            followed.keySet().removeIf(id -> !ids.contains(id) && !waiting.containsKey(id) && !unsaved.containsKey(id));
            return active;
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    private void remember(PgJobs.ClusterJob job) {
        if (job.worker() != null) {
            workers.put(job.id(), job.worker());
        }
    }

    /** The stored record, with the step this node saw on the bus when it is newer than the last renewal's. */
    private JobRecord record(PgJobs.ClusterJob job) {
        remember(job);
        JobRecord r = job.record();
        Followed live = followed.get(r.id());
        if (r.state() != JobState.RUNNING || live == null || live.state != JobState.RUNNING || live.step <= r.step()) {
            return r;
        }
        return new JobRecord(r.id(), r.state(), r.params(), r.createdAt(), r.startedAt(), r.finishedAt(), live.step,
                live.totalSteps(), r.errorCode(), r.errorMessage(), r.imageIds(), r.requeued());
    }

    private static RequestException unavailable(SQLException e) {
        return new RequestException(503, "database_unavailable", "the job database is unavailable: " + e.getMessage(), null);
    }
}
