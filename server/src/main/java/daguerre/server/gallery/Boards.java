package daguerre.server.gallery;

import daguerre.server.jobs.Ids;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SqlDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The gallery's boards (named albums, as InvokeAI has them), in the {@code boards} table; an
 * image's board is its {@code board_id}. Deleting a board keeps its images: they become unboarded.
 * The same SQL runs on the one process's SQLite database and on a cluster's PostgreSQL database;
 * names are compared with {@code lower()} (SQLite folds ASCII letters only, PostgreSQL the letters
 * of its locale) and listed in an order Java computes, the same on both.
 */
public final class Boards {

    /** The longest board name, in characters. */
    public static final int MAX_NAME_LENGTH = 64;
    private static final String SELECT = "SELECT b.id, b.name, b.created_at, "
            + "(SELECT COUNT(*) FROM images i WHERE i.board_id = b.id) AS image_count FROM boards b";

    /** By name with ASCII letters folded to lower case (as SQLite's {@code NOCASE} compares), then by id. */
    private static final Comparator<Board> ORDER = Comparator.comparing((Board b) -> asciiLowerCase(b.name())).thenComparing(Board::id);
    /** PostgreSQL's SQLSTATE for a unique index refusing a row. */
    private static final String UNIQUE_VIOLATION = "23505";

    private final SqlDatabase database;

    /** The boards of the database's {@code boards} table and its images' {@code board_id}. */
    public Boards(SqlDatabase database) {
        this.database = database;
    }

    /** Every board, by name (ASCII case ignored), with its image count. */
    public List<Board> list() throws SQLException {
        List<Board> boards = database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(SELECT); ResultSet rows = s.executeQuery()) {
                List<Board> found = new ArrayList<>();
                while (rows.next()) {
                    found.add(read(rows));
                }
                return found;
            }
        });
        boards.sort(ORDER);
        return boards;
    }

    private static String asciiLowerCase(String text) {
        StringBuilder lower = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            lower.append(c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c);
        }
        return lower.toString();
    }

    /** The board with this id, if any; anything that is not an id finds nothing. */
    public Optional<Board> find(String id) throws SQLException {
        if (!Ids.isValid(id)) {
            return Optional.empty();
        }
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement(SELECT + " WHERE b.id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    return rows.next() ? Optional.of(read(rows)) : Optional.empty();
                }
            }
        });
    }

    /** Images on no board. */
    public long unboardedCount() throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM images WHERE board_id IS NULL");
                    ResultSet rows = s.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        });
    }

    /**
     * Makes a board; 400 for a name that is blank, too long or holds control characters, 409 when
     * another board has it.
     */
    public Board create(String name) throws SQLException {
        String clean = checkedName(name);
        String id = Ids.newId();
        long now = System.currentTimeMillis();
        inTransaction(clean, c -> {
            requireFree(c, clean, id);
            try (PreparedStatement s = c.prepareStatement("INSERT INTO boards (id, name, created_at) VALUES (?, ?, ?)")) {
                s.setString(1, id);
                s.setString(2, clean);
                s.setLong(3, now);
                return s.executeUpdate();
            }
        });
        return new Board(id, clean, now, 0);
    }

    /** Renames a board (the same checks as {@link #create}); empty when there is no such board. */
    public Optional<Board> rename(String id, String name) throws SQLException {
        String clean = checkedName(name);
        if (!Ids.isValid(id)) {
            return Optional.empty();
        }
        boolean renamed = inTransaction(clean, c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM boards WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    if (!rows.next()) {
                        return false;
                    }
                }
            }
            requireFree(c, clean, id);
            try (PreparedStatement s = c.prepareStatement("UPDATE boards SET name = ? WHERE id = ?")) {
                s.setString(1, clean);
                s.setString(2, id);
                return s.executeUpdate() == 1;
            }
        });
        return renamed ? find(id) : Optional.empty();
    }

    /** Deletes a board; its images stay in the gallery, on no board. False when there is no such board. */
    public boolean delete(String id) throws SQLException {
        if (!Ids.isValid(id)) {
            return false;
        }
        return database.transaction(c -> {
            try (PreparedStatement unboard = c.prepareStatement("UPDATE images SET board_id = NULL WHERE board_id = ?");
                    PreparedStatement delete = c.prepareStatement("DELETE FROM boards WHERE id = ?")) {
                unboard.setString(1, id);
                unboard.executeUpdate();
                delete.setString(1, id);
                return delete.executeUpdate() == 1;
            }
        });
    }

    /** The name trimmed; 400 invalid_value (field {@code name}) when it cannot be a board's name. */
    private static String checkedName(String name) {
        String clean = name == null ? "" : name.strip();
        if (clean.isEmpty()) {
            throw new RequestException(400, "missing_field", "name is required: give the board a name", "name");
        }
        if (clean.codePointCount(0, clean.length()) > MAX_NAME_LENGTH) {
            throw RequestException.invalidField("name", "must be at most " + MAX_NAME_LENGTH + " characters long");
        }
        if (clean.codePoints().anyMatch(Character::isISOControl)) {
            throw RequestException.invalidField("name", "must not contain control characters (line breaks, tabs)");
        }
        return clean;
    }

    /**
     * Runs a change of a board's name in one transaction. Two api nodes of a cluster may give two boards
     * the same name at once: both find it free, and PostgreSQL's unique index refuses the second, a 409 too.
     */
    private <T> T inTransaction(String name, SqlDatabase.Work<T> work) throws SQLException {
        try {
            return database.transaction(work);
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw nameTaken(name);
            }
            throw e;
        }
    }

    /** 409 board_exists when a board other than {@code id} has the name. */
    private static void requireFree(Connection c, String name, String id) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM boards WHERE lower(name) = lower(?) AND id <> ?")) {
            s.setString(1, name);
            s.setString(2, id);
            try (ResultSet rows = s.executeQuery()) {
                if (rows.next()) {
                    throw nameTaken(name);
                }
            }
        }
    }

    private static RequestException nameTaken(String name) {
        return new RequestException(409, "board_exists", "a board named \"" + name + "\" exists already; choose another name", "name");
    }

    private static Board read(ResultSet rows) throws SQLException {
        return new Board(rows.getString("id"), rows.getString("name"), rows.getLong("created_at"), rows.getLong("image_count"));
    }
}
