package daguerre.server.batch;

import daguerre.server.jobs.Database;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The {@code batches} and {@code batch_lines} tables: which job each line of a prompt file became, or why it did not. */
public final class BatchStore {

    /**
     * One line of a stored batch.
     *
     * @param line the 1-based line number in the file
     * @param jobId the job it became, or null
     * @param errorCode why it was refused, or null
     * @param errorMessage the refusal in words, or null
     * @param errorField the offending field, or null
     */
    public record StoredLine(int line, String jobId, String errorCode, String errorMessage, String errorField) {}

    /**
     * A stored batch.
     *
     * @param id the opaque batch id
     * @param createdAt when it was accepted, epoch milliseconds
     * @param lines its lines in file order
     */
    public record StoredBatch(String id, long createdAt, List<StoredLine> lines) {}

    /**
     * Where a batch's lines stand, from the whole batch (not one page).
     *
     * @param total how many lines it has
     * @param counts lines by job state wire name, and {@code invalid} for refused lines; only states that occur
     */
    public record Summary(int total, java.util.Map<String, Integer> counts) {}

    private final Database database;

    public BatchStore(Database database) {
        this.database = database;
    }

    /** Stores a batch and its lines in one transaction. */
    public void insert(StoredBatch batch) throws SQLException {
        database.transaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO batches (id, created_at) VALUES (?, ?)")) {
                s.setString(1, batch.id());
                s.setLong(2, batch.createdAt());
                s.executeUpdate();
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO batch_lines (batch_id, line, job_id, error_code, error_message, "
                    + "error_field) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (StoredLine line : batch.lines()) {
                    s.setString(1, batch.id());
                    s.setInt(2, line.line());
                    s.setString(3, line.jobId());
                    s.setString(4, line.errorCode());
                    s.setString(5, line.errorMessage());
                    s.setString(6, line.errorField());
                    s.addBatch();
                }
                s.executeBatch();
            }
            return null;
        });
    }

    /** The batch with this id, if any, with all its lines. */
    public Optional<StoredBatch> find(String id) throws SQLException {
        return findPage(id, 0, Integer.MAX_VALUE);
    }

    /** The batch with this id, if any, with at most {@code limit} of its lines: those after line {@code afterLine}, in order. */
    public Optional<StoredBatch> findPage(String id, int afterLine, int limit) throws SQLException {
        return database.call(c -> {
            long createdAt;
            try (PreparedStatement s = c.prepareStatement("SELECT created_at FROM batches WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return Optional.empty();
                    }
                    createdAt = rows.getLong(1);
                }
            }
            List<StoredLine> lines = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT line, job_id, error_code, error_message, error_field FROM batch_lines "
                    + "WHERE batch_id = ? AND line > ? ORDER BY line LIMIT ?")) {
                s.setString(1, id);
                s.setInt(2, afterLine);
                s.setInt(3, limit);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        lines.add(new StoredLine(rows.getInt(1), rows.getString(2), rows.getString(3), rows.getString(4),
                                rows.getString(5)));
                    }
                }
            }
            return Optional.of(new StoredBatch(id, createdAt, lines));
        });
    }

    /** How many lines the batch has and where they stand, in one query (job states as stored). */
    public Summary summary(String id) throws SQLException {
        return database.call(c -> {
            java.util.Map<String, Integer> counts = new java.util.LinkedHashMap<>();
            int total = 0;
            try (PreparedStatement s = c.prepareStatement("SELECT CASE WHEN b.job_id IS NULL THEN 'invalid' ELSE j.state END AS status, COUNT(*) FROM batch_lines b "
                    + "LEFT JOIN jobs j ON j.id = b.job_id WHERE b.batch_id = ? GROUP BY status")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    while (rows.next()) {
                        counts.put(rows.getString(1), rows.getInt(2));
                        total += rows.getInt(2);
                    }
                }
            }
            return new Summary(total, counts);
        });
    }
}
