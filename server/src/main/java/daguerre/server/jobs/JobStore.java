package daguerre.server.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The {@code jobs} table: every job and its request, so that none is lost across restarts. */
public final class JobStore {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String COLUMNS = "id, state, request, init_image, created_at, started_at, finished_at, step, total, "
            + "error_code, error_message, image_ids, requeued";

    private final Database database;

    public JobStore(Database database) {
        this.database = database;
    }

    /** Stores a new queued job. */
    public void insert(String id, GenerationParams params, long createdAt) throws SQLException {
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "INSERT INTO jobs (id, state, request, init_image, created_at, total) VALUES (?, 'queued', ?, ?, ?, ?)")) {
                s.setString(1, id);
                s.setString(2, GenerationRequests.toStoredJson(params).toString());
                s.setBytes(3, params.initImage());
                s.setLong(4, createdAt);
                s.setInt(5, params.steps());
                return s.executeUpdate();
            }
        });
    }

    /** Marks a job running. */
    public void markRunning(String id, long startedAt) throws SQLException {
        update("UPDATE jobs SET state = 'running', started_at = ?, step = 0 WHERE id = ?", startedAt, id);
    }

    /** Marks a job finished. */
    public void markFinished(String id, JobState state, long finishedAt, List<String> imageIds, String errorCode, String errorMessage)
            throws SQLException {
        String images;
        try {
            images = JSON.writeValueAsString(imageIds);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        update("UPDATE jobs SET state = ?, finished_at = ?, image_ids = ?, error_code = ?, error_message = ? WHERE id = ?",
                state.wireName(), finishedAt, images, errorCode, errorMessage, id);
    }

    /** Marks queued jobs cancelled, in one transaction (a whole batch at once). */
    public void markCancelled(List<String> ids, long finishedAt) throws SQLException {
        database.transaction(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?, image_ids = '[]', error_code = NULL, error_message = NULL WHERE id = ?")) {
                for (String id : ids) {
                    s.setLong(1, finishedAt);
                    s.setString(2, id);
                    s.addBatch();
                }
                s.executeBatch();
            }
            return null;
        });
    }

    /** Puts a running job back in the queue (shutdown); it keeps its place by creation order. */
    public void requeue(String id) throws SQLException {
        update("UPDATE jobs SET state = 'queued', started_at = NULL, step = 0, requeued = requeued + 1 WHERE id = ?", id);
    }

    /**
     * What a start found in the table.
     *
     * @param queued the jobs to run, oldest first (the ones left running among them)
     * @param failed the ids of jobs left running that had been interrupted too often, now failed
     */
    public record Recovery(List<JobRecord> queued, List<String> failed) {}

    /** The error code of a job failed because restarts interrupted it too often. */
    public static final String INTERRUPTED = "interrupted";

    /**
     * Prepares the queue after a start. A job still marked running was interrupted: the service
     * stopped without re-queueing it (a crash, perhaps caused by the job itself). Its count of
     * such restarts goes up by one; once it reaches {@code maxRestarts} the job is marked failed
     * ("interrupted by N restarts; not run again"), else it goes back to queued.
     */
    public Recovery recoverQueued(int maxRestarts, long now) throws SQLException {
        List<String> interrupted = database.transaction(c -> {
            List<String> failed = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT id FROM jobs WHERE state = 'running' AND crash_restarts + 1 >= ? ORDER BY seq")) {
                s.setInt(1, maxRestarts);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        failed.add(rows.getString(1));
                    }
                }
            }
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'failed', finished_at = ?, step = 0,"
                    + " crash_restarts = crash_restarts + 1, error_code = ?,"
                    + " error_message = 'interrupted by ' || (crash_restarts + 1) || ' restarts; not run again'"
                    + " WHERE state = 'running' AND crash_restarts + 1 >= ?")) {
                s.setLong(1, now);
                s.setString(2, INTERRUPTED);
                s.setInt(3, maxRestarts);
                s.executeUpdate();
            }
            try (PreparedStatement s = c.prepareStatement("UPDATE jobs SET state = 'queued', started_at = NULL, step = 0,"
                    + " requeued = requeued + 1, crash_restarts = crash_restarts + 1 WHERE state = 'running'")) {
                s.executeUpdate();
            }
            return failed;
        });
        return new Recovery(query("SELECT " + COLUMNS + " FROM jobs WHERE state = 'queued' ORDER BY seq", List.of()), interrupted);
    }

    /** The job with this id, if any. */
    public Optional<JobRecord> find(String id) throws SQLException {
        return query("SELECT " + COLUMNS + " FROM jobs WHERE id = ?", List.of(id)).stream().findFirst();
    }

    /** The most recent finished jobs, newest first. */
    public List<JobRecord> recentFinished(int limit) throws SQLException {
        return query("SELECT " + COLUMNS + " FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') ORDER BY seq DESC LIMIT ?",
                List.of(limit));
    }

    /** A prompt pair as submitted, with when it was last submitted (epoch milliseconds). */
    public record PromptUse(String prompt, String negativePrompt, long lastUsedAt) {}

    /** How many of the newest jobs {@link #recentPrompts} looks through, so that it stays fast on any history. */
    public static final int PROMPT_HISTORY_JOBS = 10_000;

    /**
     * The distinct prompt and negative prompt pairs of the newest jobs, most recently submitted first.
     *
     * @param contains only prompts containing this text, ignoring ASCII case; null or empty for all
     */
    public List<PromptUse> recentPrompts(String contains, int limit) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("""
                    SELECT prompt, negative, MAX(created_at) FROM (
                        SELECT seq, created_at, json_extract(request, '$.prompt') AS prompt,
                               COALESCE(json_extract(request, '$.negative_prompt'), '') AS negative
                        FROM jobs ORDER BY seq DESC LIMIT ?)
                    WHERE instr(lower(prompt), lower(?)) > 0
                    GROUP BY prompt, negative ORDER BY MAX(seq) DESC LIMIT ?""")) {
                s.setInt(1, PROMPT_HISTORY_JOBS);
                s.setString(2, contains == null ? "" : contains);
                s.setInt(3, limit);
                List<PromptUse> prompts = new ArrayList<>();
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        prompts.add(new PromptUse(rows.getString(1), rows.getString(2), rows.getLong(3)));
                    }
                }
                return prompts;
            }
        });
    }

    /** Job counts by state, from the whole history. */
    public java.util.Map<JobState, Long> countByState() throws SQLException {
        return database.call(c -> {
            java.util.Map<JobState, Long> counts = new java.util.EnumMap<>(JobState.class);
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

    private void update(String sql, Object... args) throws SQLException {
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(sql)) {
                for (int i = 0; i < args.length; i++) {
                    s.setObject(i + 1, args[i]);
                }
                return s.executeUpdate();
            }
        });
    }

    private List<JobRecord> query(String sql, List<Object> args) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(sql)) {
                for (int i = 0; i < args.size(); i++) {
                    s.setObject(i + 1, args.get(i));
                }
                List<JobRecord> jobs = new ArrayList<>();
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        jobs.add(read(rows));
                    }
                }
                return jobs;
            }
        });
    }

    private static JobRecord read(ResultSet rows) throws SQLException {
        try {
            GenerationParams params = GenerationRequests.fromJson(JSON.readTree(rows.getString("request")), rows.getBytes("init_image"));
            List<String> imageIds = JSON.readValue(rows.getString("image_ids"), new TypeReference<List<String>>() {});
            return new JobRecord(rows.getString("id"), JobState.fromWire(rows.getString("state")), params,
                    rows.getLong("created_at"), nullableLong(rows, "started_at"),
                    nullableLong(rows, "finished_at"), rows.getInt("step"), rows.getInt("total"),
                    rows.getString("error_code"), rows.getString("error_message"), imageIds, rows.getInt("requeued"));
        } catch (JsonProcessingException e) {
            throw new SQLException("job " + rows.getString("id") + " has an unreadable request: " + e.getMessage(), e);
        }
    }

    private static Long nullableLong(ResultSet rows, String column) throws SQLException {
        long value = rows.getLong(column);
        return rows.wasNull() ? null : value;
    }
}
