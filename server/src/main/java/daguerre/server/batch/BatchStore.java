package daguerre.server.batch;

import daguerre.server.jobs.Database;
import daguerre.server.jobs.SqlDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code batches} and {@code batch_lines} tables: which job each line of a prompt file became, or why it did not.
 * The same SQL runs on the one process's SQLite database and on a cluster's PostgreSQL database (where any api
 * node answers for any batch); they differ only in the column that orders the batches, SQLite's {@code rowid}
 * and PostgreSQL's {@code seq}. A line's state is its job's, read from the {@code jobs} table of the same database.
 */
public final class BatchStore {

    /**
     * One line of a stored batch.
     *
     * @param line the 1-based line number in the file (the element number of a JSON array)
     * @param source the line as written (cut to {@value #MAX_TEXT} characters), or null for a batch stored before lines kept it
     * @param prompt the prompt the line asks for, or null when it could not be read that far
     * @param jobId the job it became, or null
     * @param errorCode why it was refused, or null
     * @param errorMessage the refusal in words, or null
     * @param errorField the offending field, or null
     */
    public record StoredLine(int line, String source, String prompt, String jobId, String errorCode, String errorMessage,
            String errorField) {}

    /**
     * A stored batch.
     *
     * @param id the opaque batch id
     * @param name the name it was given (a prompt file's name), or null
     * @param createdAt when it was accepted, epoch milliseconds
     * @param cancelledAt when it was cancelled, epoch milliseconds, or null
     * @param lines its lines in file order (all, or one page)
     */
    public record StoredBatch(String id, String name, long createdAt, Long cancelledAt, List<StoredLine> lines) {}

    /**
     * Where a batch's lines stand, from the whole batch (not one page).
     *
     * @param total how many lines it has
     * @param counts lines by job state wire name, and {@code invalid} for refused lines; only states that occur
     */
    public record Summary(int total, Map<String, Integer> counts) {

        /** Lines in this state ({@code invalid} included). */
        public int count(String status) {
            return counts.getOrDefault(status, 0);
        }

        /**
         * The batch's state: {@code queued} (no line started yet), {@code running}, {@code cancelling}
         * (cancelled, a line still stopping), {@code cancelled} or {@code done}.
         */
        public String state(boolean cancelled) {
            boolean active = count("queued") + count("running") > 0;
            if (cancelled) {
                return active ? "cancelling" : "cancelled";
            }
            if (!active) {
                return "done";
            }
            return count("queued") == total - count("invalid") ? "queued" : "running";
        }
    }

    /**
     * One batch in a list: its stored row and its summary.
     *
     * @param cursor where the next page starts after it
     */
    public record Listed(StoredBatch batch, Summary summary, long cursor) {}

    /** The most characters of a line's text and prompt kept. */
    static final int MAX_TEXT = 2000;

    private static final String STATUS = "CASE WHEN b.job_id IS NULL THEN 'invalid' ELSE j.state END";

    private final SqlDatabase database;
    /** The column that numbers the batches in the order they were stored: the list's order and cursor. */
    private final String order;

    private BatchStore(SqlDatabase database, String order) {
        this.database = database;
        this.order = order;
    }

    /** The tables of the one process's SQLite database. */
    public static BatchStore sqlite(Database database) {
        return new BatchStore(database, "rowid");
    }

    /** The tables of a cluster's PostgreSQL database. */
    public static BatchStore postgres(SqlDatabase database) {
        return new BatchStore(database, "seq");
    }

    /** Stores a batch and its lines in one transaction. */
    public void insert(StoredBatch batch) throws SQLException {
        database.transaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO batches (id, name, created_at) VALUES (?, ?, ?)")) {
                s.setString(1, batch.id());
                s.setString(2, batch.name());
                s.setLong(3, batch.createdAt());
                s.executeUpdate();
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO batch_lines (batch_id, line, source, prompt, job_id, error_code,"
                    + " error_message, error_field) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (StoredLine line : batch.lines()) {
                    s.setString(1, batch.id());
                    s.setInt(2, line.line());
                    s.setString(3, cut(line.source()));
                    s.setString(4, cut(line.prompt()));
                    s.setString(5, line.jobId());
                    s.setString(6, line.errorCode());
                    s.setString(7, line.errorMessage());
                    s.setString(8, line.errorField());
                    s.addBatch();
                }
                s.executeBatch();
            }
            return null;
        });
    }

    private static String cut(String text) {
        return text == null || text.length() <= MAX_TEXT ? text : text.substring(0, MAX_TEXT);
    }

    /** The batch with this id, if any, with all its lines. */
    public Optional<StoredBatch> find(String id) throws SQLException {
        return findPage(id, 0, Integer.MAX_VALUE);
    }

    /** The batch with this id, if any, with at most {@code limit} of its lines: those after line {@code afterLine}, in order. */
    public Optional<StoredBatch> findPage(String id, int afterLine, int limit) throws SQLException {
        return database.call(c -> {
            StoredBatch batch;
            try (PreparedStatement s = c.prepareStatement("SELECT id, name, created_at, cancelled_at FROM batches WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return Optional.empty();
                    }
                    batch = batch(rows, List.of());
                }
            }
            List<StoredLine> lines = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT line, source, prompt, job_id, error_code, error_message, error_field"
                    + " FROM batch_lines WHERE batch_id = ? AND line > ? ORDER BY line LIMIT ?")) {
                s.setString(1, id);
                s.setInt(2, afterLine);
                s.setInt(3, limit);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        lines.add(new StoredLine(rows.getInt(1), rows.getString(2), rows.getString(3), rows.getString(4),
                                rows.getString(5), rows.getString(6), rows.getString(7)));
                    }
                }
            }
            return Optional.of(new StoredBatch(batch.id(), batch.name(), batch.createdAt(), batch.cancelledAt(), lines));
        });
    }

    /** The ids of the jobs the batch's lines became, in line order. */
    public List<String> jobIds(String id) throws SQLException {
        return database.call(c -> {
            List<String> ids = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT job_id FROM batch_lines WHERE batch_id = ? AND job_id IS NOT NULL ORDER BY line")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        ids.add(rows.getString(1));
                    }
                }
            }
            return ids;
        });
    }

    /** Notes that the batch was cancelled (the first time only); returns whether the batch exists. */
    public boolean markCancelled(String id, long at) throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE batches SET cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?")) {
                s.setLong(1, at);
                s.setString(2, id);
                return s.executeUpdate() > 0;
            }
        });
    }

    /** How many lines the batch has and where they stand, in one query (job states as stored). */
    public Summary summary(String id) throws SQLException {
        return database.call(c -> summaries(c, "b.batch_id = ?", id).getOrDefault(id, new Summary(0, Map.of())));
    }

    /**
     * A page of batches, newest first, with their summaries (no lines).
     *
     * @param before the cursor of the last batch of the previous page, or null for the first page
     */
    public List<Listed> list(Long before, int limit) throws SQLException {
        return database.call(c -> {
            List<StoredBatch> batches = new ArrayList<>();
            List<Long> cursors = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT id, name, created_at, cancelled_at, " + order + " FROM batches"
                    + " WHERE " + order + " < ? ORDER BY " + order + " DESC LIMIT ?")) {
                s.setLong(1, before == null ? Long.MAX_VALUE : before);
                s.setInt(2, limit);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        batches.add(batch(rows, List.of()));
                        cursors.add(rows.getLong(5));
                    }
                }
            }
            if (batches.isEmpty()) {
                return List.of();
            }
            Map<String, Summary> summaries = summaries(c, "b.batch_id IN (SELECT id FROM batches WHERE " + order + " < ? ORDER BY "
                    + order + " DESC LIMIT ?)", before == null ? Long.MAX_VALUE : before, limit);
            List<Listed> listed = new ArrayList<>();
            for (int i = 0; i < batches.size(); i++) {
                StoredBatch batch = batches.get(i);
                listed.add(new Listed(batch, summaries.getOrDefault(batch.id(), new Summary(0, Map.of())), cursors.get(i)));
            }
            return listed;
        });
    }

    private static StoredBatch batch(ResultSet row, List<StoredLine> lines) throws SQLException {
        long cancelledAt = row.getLong(4);
        Long cancelled = row.wasNull() ? null : cancelledAt;
        return new StoredBatch(row.getString(1), row.getString(2), row.getLong(3), cancelled, lines);
    }

    /** The summaries of the batches whose lines {@code where} selects, by batch id. */
    private static Map<String, Summary> summaries(Connection c, String where, Object... arguments) throws SQLException {
        Map<String, Map<String, Integer>> counts = new LinkedHashMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT b.batch_id, " + STATUS + " AS status, COUNT(*) FROM batch_lines b"
                + " LEFT JOIN jobs j ON j.id = b.job_id WHERE " + where + " GROUP BY b.batch_id, status")) {
            for (int i = 0; i < arguments.length; i++) {
                s.setObject(i + 1, arguments[i]);
            }
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    counts.computeIfAbsent(rows.getString(1), k -> new LinkedHashMap<>()).put(rows.getString(2), rows.getInt(3));
                }
            }
        }
        Map<String, Summary> summaries = new LinkedHashMap<>();
        counts.forEach((id, byStatus) -> summaries.put(id,
                new Summary(byStatus.values().stream().mapToInt(Integer::intValue).sum(), byStatus)));
        return summaries;
    }
}
