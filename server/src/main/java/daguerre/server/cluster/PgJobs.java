package daguerre.server.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.JobStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The shared queue in PostgreSQL's {@code jobs} table. A worker claims the oldest queued job it
 * can run with {@code SELECT ... FOR UPDATE SKIP LOCKED} and holds it by a lease (a random token
 * and an expiry in the database's clock), renewed while it runs; a job whose lease expired goes
 * back to the queue ({@link #requeueExpired}); only the holder of the current lease can end a
 * job ({@link #complete}), so a job completes exactly once and a late result is discarded.
 */
public final class PgJobs {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String COLUMNS = "seq, id, state, request, init_image, created_at, started_at, finished_at, step, total,"
            + " error_code, error_message, image_ids, requeued, worker, lease_token, save_to_gallery";

    private final PgDatabase database;

    public PgJobs(PgDatabase database) {
        this.database = database;
    }

    /**
     * A job as the cluster stores it.
     *
     * @param record the job as the single-process service stores it
     * @param worker the node id of the worker that runs or ran it, or null
     * @param leaseToken the token of its current lease, or null when no worker holds it
     * @param saveToGallery whether its images go to the gallery; when not, its worker leaves them in {@code job_results}
     *                      for the api node whose client waits ({@link #takeResults})
     */
    public record ClusterJob(JobRecord record, String worker, String leaseToken, boolean saveToGallery) {

        public String id() {
            return record.id();
        }
    }

    /** What a lease renewal found. */
    public enum Renewal {
        /** The lease is extended. */
        HELD,
        /** The lease is extended and a client asked to cancel the job. */
        CANCEL_REQUESTED,
        /** The worker lost the job (its lease expired and it went back to the queue, or it ended): stop and discard. */
        LOST
    }

    /** Stores a new queued job whose images go to the gallery. */
    public void insert(String id, GenerationParams params, long createdAt) throws SQLException {
        insertAll(List.of(new NewJob(id, params)), createdAt, true);
    }

    /** A job to insert. */
    public record NewJob(String id, GenerationParams params) {}

    /** Stores new queued jobs, all or none. */
    public void insertAll(List<NewJob> newJobs, long createdAt, boolean saveToGallery) throws SQLException {
        database.transaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO jobs (id, state, model, request, init_image, created_at, total,"
                    + " save_to_gallery) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?)")) {
                for (NewJob job : newJobs) {
                    s.setString(1, job.id());
                    s.setString(2, job.params().model());
                    s.setString(3, GenerationRequests.toStoredJson(job.params()).toString());
                    s.setBytes(4, job.params().initImage());
                    s.setLong(5, createdAt);
                    s.setInt(6, job.params().steps());
                    s.setBoolean(7, saveToGallery);
                    s.addBatch();
                }
                return s.executeBatch();
            }
        });
    }

    /**
     * Claims the oldest queued job for one of {@code models}, those for {@code preferredModel}
     * (the model the worker ran last, so loaded) first, with a lease of {@code leaseMillis}.
     */
    public Optional<ClusterJob> claim(String worker, List<String> models, String preferredModel, String token, long leaseMillis,
            long now) throws SQLException {
        return database.transaction(c -> {
            String id;
            try (PreparedStatement s = c.prepareStatement("SELECT id FROM jobs WHERE state = 'queued' AND model = ANY(?)"
                    + " ORDER BY (model = ?) DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED")) {
                s.setArray(1, c.createArrayOf("text", models.toArray()));
                s.setString(2, preferredModel == null ? "" : preferredModel);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return Optional.empty();
                    }
                    id = rows.getString(1);
                }
            }
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'running', worker = ?, lease_token = ?,"
                    + " lease_until = now() + ? * interval '1 millisecond', started_at = ?, step = 0 WHERE id = ?")) {
                s.setString(1, worker);
                s.setString(2, token);
                s.setLong(3, leaseMillis);
                s.setLong(4, now);
                s.setString(5, id);
                s.executeUpdate();
            }
            return find(c, id);
        });
    }

    /** Extends the lease of a running job and records its step; says whether the worker still holds it. */
    public Renewal renew(String id, String token, int step, long leaseMillis) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET lease_until = now() + ? * interval '1 millisecond', step = ?"
                    + " WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING cancel_requested")) {
                s.setLong(1, leaseMillis);
                s.setInt(2, step);
                s.setString(3, id);
                s.setString(4, token);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return Renewal.LOST;
                    }
                    return rows.getBoolean(1) ? Renewal.CANCEL_REQUESTED : Renewal.HELD;
                }
            }
        });
    }

    /** Work done inside the transaction that ends a job, once the lease is confirmed (the gallery rows). */
    @FunctionalInterface
    public interface InTransaction {
        void apply(Connection connection) throws SQLException;
    }

    /**
     * Ends a running job, in one transaction with {@code alsoDo} (inserting its gallery rows), if
     * {@code token} is still its lease; returns false, changing nothing, when the worker lost the job.
     */
    public boolean complete(String id, String token, JobState state, long finishedAt, List<String> imageIds, String errorCode,
            String errorMessage, InTransaction alsoDo) throws SQLException {
        String images;
        try {
            images = JSON.writeValueAsString(imageIds);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return database.transaction(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = ?, finished_at = ?, image_ids = ?, error_code = ?,"
                    + " error_message = ?, lease_token = NULL, lease_until = NULL WHERE id = ? AND lease_token = ? AND state = 'running'")) {
                s.setString(1, state.wireName());
                s.setLong(2, finishedAt);
                s.setString(3, images);
                s.setString(4, errorCode);
                s.setString(5, errorMessage);
                s.setString(6, id);
                s.setString(7, token);
                if (s.executeUpdate() == 0) {
                    return false;
                }
            }
            alsoDo.apply(c);
            return true;
        });
    }

    /** Puts a running job its worker holds back at its place in the queue (the worker is stopping). */
    public boolean release(String id, String token) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'queued', worker = NULL, lease_token = NULL,"
                    + " lease_until = NULL, started_at = NULL, step = 0, requeued = requeued + 1 WHERE id = ? AND lease_token = ?"
                    + " AND state = 'running'")) {
                s.setString(1, id);
                s.setString(2, token);
                return s.executeUpdate() == 1;
            }
        });
    }

    /**
     * What {@link #requeueExpired} did.
     *
     * @param requeued jobs whose worker stopped renewing, back in the queue
     * @param failed jobs lost this often ({@code maxRestarts}), failed instead (they may be what kills workers)
     * @param cancelled jobs a client asked to cancel whose worker was lost, now cancelled
     */
    public record Expired(List<String> requeued, List<String> failed, List<String> cancelled) {}

    /** The error code of a job failed because its workers died too often while running it. */
    public static final String INTERRUPTED = "interrupted";

    /**
     * Puts running jobs whose lease expired back in the queue; cancels those a client asked to
     * cancel, and fails those lost {@code maxRestarts} times.
     */
    public Expired requeueExpired(int maxRestarts, long now) throws SQLException {
        return database.transaction(c -> {
            List<String> cancelled = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'cancelled', finished_at = ?, lease_token = NULL,"
                    + " lease_until = NULL WHERE state = 'running' AND lease_until < now() AND cancel_requested RETURNING id")) {
                s.setLong(1, now);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        cancelled.add(rows.getString(1));
                    }
                }
            }
            List<String> failed = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'failed', finished_at = ?, lease_token = NULL,"
                    + " lease_until = NULL, crash_restarts = crash_restarts + 1, error_code = ?,"
                    + " error_message = 'its worker was lost ' || (crash_restarts + 1) || ' times; not run again'"
                    + " WHERE state = 'running' AND lease_until < now() AND crash_restarts + 1 >= ? RETURNING id")) {
                s.setLong(1, now);
                s.setString(2, INTERRUPTED);
                s.setInt(3, maxRestarts);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        failed.add(rows.getString(1));
                    }
                }
            }
            List<String> requeued = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'queued', lease_token = NULL, lease_until = NULL,"
                    + " started_at = NULL, step = 0, requeued = requeued + 1, crash_restarts = crash_restarts + 1"
                    + " WHERE state = 'running' AND lease_until < now() RETURNING id")) {
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        requeued.add(rows.getString(1));
                    }
                }
            }
            return new Expired(requeued, failed, cancelled);
        });
    }

    /**
     * Cancels a job: a queued one at once (returns {@link JobState#CANCELLED}); for a running one
     * it records the request, which its worker reads at its next renewal if the event bus message
     * missed it (returns {@link JobState#RUNNING}); returns the state of a finished one unchanged,
     * empty for an unknown id.
     */
    public Optional<JobState> cancel(String id, long now) throws SQLException {
        return database.transaction(c -> {
            String state;
            try (PreparedStatement s = c.prepareStatement("SELECT state FROM jobs WHERE id = ? FOR UPDATE")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return Optional.empty();
                    }
                    state = rows.getString(1);
                }
            }
            JobState current = JobState.fromWire(state);
            if (current == JobState.QUEUED) {
                try (PreparedStatement s = c.prepareStatement(
                        "UPDATE jobs SET state = 'cancelled', finished_at = ?, cancel_requested = TRUE WHERE id = ?")) {
                    s.setLong(1, now);
                    s.setString(2, id);
                    s.executeUpdate();
                }
                return Optional.of(JobState.CANCELLED);
            }
            if (current == JobState.RUNNING) {
                try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET cancel_requested = TRUE WHERE id = ?")) {
                    s.setString(1, id);
                    s.executeUpdate();
                }
            }
            return Optional.of(current);
        });
    }

    /**
     * What {@link #cancelAll} did.
     *
     * @param cancelled the queued jobs, now cancelled
     * @param running the running jobs, whose workers are asked to stop
     */
    public record BulkCancel(List<String> cancelled, List<String> running) {}

    /**
     * Cancels several jobs in one transaction (a batch's), as {@link #cancel} does each: the queued ones at
     * once, the running ones by their recorded request; finished and unknown ids are left alone.
     */
    public BulkCancel cancelAll(Collection<String> ids, long now) throws SQLException {
        return database.transaction(c -> {
            java.sql.Array array = c.createArrayOf("text", ids.toArray());
            List<String> cancelled = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'cancelled', finished_at = ?, cancel_requested = TRUE"
                    + " WHERE id = ANY(?) AND state = 'queued' RETURNING id")) {
                s.setLong(1, now);
                s.setArray(2, array);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        cancelled.add(rows.getString(1));
                    }
                }
            }
            List<String> running = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET cancel_requested = TRUE WHERE id = ANY(?) AND state = 'running'"
                    + " RETURNING id")) {
                s.setArray(1, array);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        running.add(rows.getString(1));
                    }
                }
            }
            return new BulkCancel(cancelled, running);
        });
    }

    /** Notes that a client watches an active job through the native API (so that an A1111 or OpenAI client's leaving does not cancel it). */
    public void watch(String id) throws SQLException {
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "UPDATE jobs SET watched = TRUE WHERE id = ? AND NOT watched AND state IN ('queued', 'running')")) {
                s.setString(1, id);
                return s.executeUpdate();
            }
        });
    }

    /** Whether a client watches the job ({@link #watch}). */
    public boolean watched(String id) throws SQLException {
        return flag(id, "watched");
    }

    /** Inside the completing transaction: the images of a job not saved to the gallery, for the client that waits. */
    public static void storeResults(Connection c, String id, EngineResult result) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO job_results (job_id, idx, png, seed, infotext) VALUES (?, ?, ?, ?, ?)"
                + " ON CONFLICT DO NOTHING")) {
            for (int i = 0; i < result.images().size(); i++) {
                EngineResult.Image image = result.images().get(i);
                s.setString(1, id);
                s.setInt(2, i);
                s.setBytes(3, image.png());
                s.setLong(4, image.seed());
                s.setString(5, image.infotext());
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    /** The images {@link #storeResults} kept for a job, removed from the database (they are handed out once). */
    public EngineResult takeResults(String id) throws SQLException {
        return database.call(c -> {
            java.util.SortedMap<Integer, EngineResult.Image> images = new java.util.TreeMap<>();
            try (PreparedStatement s = c.prepareStatement("DELETE FROM job_results WHERE job_id = ? RETURNING idx, png, seed, infotext")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        images.put(rows.getInt(1), new EngineResult.Image(rows.getBytes(2), rows.getLong(3), rows.getString(4)));
                    }
                }
            }
            return new EngineResult(List.copyOf(images.values()));
        });
    }

    /** Deletes kept images of jobs finished before {@code before} whose client never took them (its api node went away). */
    public int deleteUntakenResults(long before) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("DELETE FROM job_results r USING jobs j WHERE j.id = r.job_id"
                    + " AND j.finished_at < ?")) {
                s.setLong(1, before);
                return s.executeUpdate();
            }
        });
    }

    /** A boolean column of a job's row; false when there is no such job. */
    private boolean flag(String id, String column) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT " + column + " FROM jobs WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    return rows.next() && rows.getBoolean(1);
                }
            }
        });
    }

    /** Whether a client asked to cancel the job. */
    public boolean cancelRequested(String id) throws SQLException {
        return flag(id, "cancel_requested");
    }

    /** The job with this id, if any. */
    public Optional<ClusterJob> find(String id) throws SQLException {
        return database.call(c -> find(c, id));
    }

    private static Optional<ClusterJob> find(Connection c, String id) throws SQLException {
        List<ClusterJob> jobs = query(c, "SELECT " + COLUMNS + " FROM jobs WHERE id = ?", id);
        return jobs.stream().findFirst();
    }

    /** The jobs of these ids that exist, in one query. */
    public List<ClusterJob> findAll(Collection<String> ids) throws SQLException {
        return database.call(c -> query(c, "SELECT " + COLUMNS + " FROM jobs WHERE id = ANY(?)", c.createArrayOf("text", ids.toArray())));
    }

    /** 1-based place of a queued job among the queued ones, 0 for a running job, -1 for any other. */
    public int position(String id) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT j.state, (SELECT COUNT(*) FROM jobs q WHERE q.state = 'queued'"
                    + " AND q.seq <= j.seq) FROM jobs j WHERE j.id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return -1;
                    }
                    return switch (rows.getString(1)) {
                        case "queued" -> rows.getInt(2);
                        case "running" -> 0;
                        default -> -1;
                    };
                }
            }
        });
    }

    /** The running jobs, then the queued ones, oldest first. */
    public List<ClusterJob> active() throws SQLException {
        return database.call(c -> query(c, "SELECT " + COLUMNS + " FROM jobs WHERE state IN ('running', 'queued')"
                + " ORDER BY state = 'running' DESC, seq"));
    }

    /** The most recent finished jobs, newest first. */
    public List<ClusterJob> recentFinished(int limit) throws SQLException {
        return database.call(c -> query(c, "SELECT " + COLUMNS + " FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')"
                + " ORDER BY seq DESC LIMIT " + limit));
    }

    /** As {@link JobStore#recentPrompts}, over the shared queue's jobs. */
    public List<JobStore.PromptUse> recentPrompts(String contains, int limit) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("""
                    SELECT prompt, negative, MAX(created_at) FROM (
                        SELECT seq, created_at, request::jsonb ->> 'prompt' AS prompt,
                               COALESCE(request::jsonb ->> 'negative_prompt', '') AS negative
                        FROM jobs ORDER BY seq DESC LIMIT ?) newest
                    WHERE strpos(lower(prompt), lower(?)) > 0
                    GROUP BY prompt, negative ORDER BY MAX(seq) DESC LIMIT ?""")) {
                s.setInt(1, JobStore.PROMPT_HISTORY_JOBS);
                s.setString(2, contains == null ? "" : contains);
                s.setInt(3, limit);
                List<JobStore.PromptUse> prompts = new ArrayList<>();
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        prompts.add(new JobStore.PromptUse(rows.getString(1), rows.getString(2), rows.getLong(3)));
                    }
                }
                return prompts;
            }
        });
    }

    /** Job counts by state. */
    public Map<JobState, Long> countByState() throws SQLException {
        return database.call(c -> {
            Map<JobState, Long> counts = new EnumMap<>(JobState.class);
            for (JobState state : JobState.values()) {
                counts.put(state, 0L);
            }
            try (PreparedStatement s = c.prepareStatement("SELECT state, COUNT(*) FROM jobs GROUP BY state");
                    ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    counts.put(JobState.fromWire(rows.getString(1)), rows.getLong(2));
                }
            }
            return counts;
        });
    }

    private static List<ClusterJob> query(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                s.setObject(i + 1, args[i]);
            }
            List<ClusterJob> jobs = new ArrayList<>();
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    jobs.add(read(rows));
                }
            }
            return jobs;
        }
    }

    private static ClusterJob read(ResultSet rows) throws SQLException {
        try {
            GenerationParams params = GenerationRequests.fromJson(JSON.readTree(rows.getString("request")), rows.getBytes("init_image"));
            List<String> imageIds = JSON.readValue(rows.getString("image_ids"), new TypeReference<List<String>>() {});
            JobRecord record = new JobRecord(rows.getString("id"), JobState.fromWire(rows.getString("state")), params,
                    rows.getLong("created_at"), nullableLong(rows, "started_at"), nullableLong(rows, "finished_at"),
                    rows.getInt("step"), rows.getInt("total"), rows.getString("error_code"), rows.getString("error_message"),
                    imageIds, rows.getInt("requeued"));
            return new ClusterJob(record, rows.getString("worker"), rows.getString("lease_token"), rows.getBoolean("save_to_gallery"));
        } catch (JsonProcessingException e) {
            throw new SQLException("job " + rows.getString("id") + " has an unreadable request: " + e.getMessage(), e);
        }
    }

    private static Long nullableLong(ResultSet rows, String column) throws SQLException {
        long value = rows.getLong(column);
        return rows.wasNull() ? null : value;
    }
}
