package daguerre.server.jobs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The service's SQLite database ({@code daguerre.db} in the data directory): one connection,
 * used by one thread at a time, with versioned schema migrations tracked in {@code PRAGMA user_version}.
 */
public final class Database implements SqlDatabase, AutoCloseable {

    /** Schema migrations; migration i (0-based) brings the schema from version i to i + 1. Append only. */
    private static final List<String> MIGRATIONS = List.of(
            """
            CREATE TABLE jobs (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL,
                request TEXT NOT NULL,
                init_image BLOB,
                created_at INTEGER NOT NULL,
                started_at INTEGER,
                finished_at INTEGER,
                step INTEGER NOT NULL DEFAULT 0,
                total INTEGER NOT NULL DEFAULT 0,
                error_code TEXT,
                error_message TEXT,
                image_ids TEXT NOT NULL DEFAULT '[]',
                requeued INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX jobs_by_state ON jobs(state, seq);
            CREATE TABLE images (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                job_id TEXT,
                file TEXT NOT NULL,
                prompt TEXT NOT NULL,
                negative_prompt TEXT NOT NULL,
                model TEXT NOT NULL,
                sampler TEXT NOT NULL,
                seed INTEGER NOT NULL,
                steps INTEGER NOT NULL,
                guidance_scale REAL NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                favorite INTEGER NOT NULL DEFAULT 0,
                infotext TEXT NOT NULL,
                request TEXT NOT NULL
            );
            CREATE INDEX images_by_created ON images(created_at);
            CREATE VIRTUAL TABLE images_fts USING fts5(prompt, negative_prompt, content='images', content_rowid='seq');
            CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN
                INSERT INTO images_fts(rowid, prompt, negative_prompt) VALUES (new.seq, new.prompt, new.negative_prompt);
            END;
            CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN
                INSERT INTO images_fts(images_fts, rowid, prompt, negative_prompt)
                    VALUES ('delete', old.seq, old.prompt, old.negative_prompt);
            END;
            """,
            """
            CREATE TABLE batches (
                id TEXT PRIMARY KEY,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE batch_lines (
                batch_id TEXT NOT NULL REFERENCES batches(id),
                line INTEGER NOT NULL,
                job_id TEXT,
                error_code TEXT,
                error_message TEXT,
                error_field TEXT,
                PRIMARY KEY (batch_id, line)
            );
            CREATE TABLE settings (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );
            """,
            // boards (named albums); an image is on at most one, and a deleted board leaves its images unboarded
            """
            CREATE TABLE boards (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                created_at INTEGER NOT NULL
            );
            ALTER TABLE images ADD COLUMN board_id TEXT REFERENCES boards(id) ON DELETE SET NULL;
            CREATE INDEX images_by_board ON images(board_id, seq);
            """);

    /**
     * A column added to a table after the table's first version.
     *
     * @param definition its type and default, as {@code ALTER TABLE ... ADD COLUMN} takes them
     */
    private record AddedColumn(String table, String column, String definition) {}

    /**
     * Columns added when missing, after the versioned migrations, whatever the file's version: a
     * database of any earlier version (or of a branch that numbered its migrations differently)
     * gains them, and one that has them is left alone. Append only.
     */
    private static final List<AddedColumn> ADDED_COLUMNS = List.of(
            // times a job was found running at start (the service had stopped without re-queueing it)
            new AddedColumn("jobs", "crash_restarts", "INTEGER NOT NULL DEFAULT 0"),
            // a batch's name (the prompt file's) and when it was cancelled; each line's text and parsed prompt
            new AddedColumn("batches", "name", "TEXT"),
            new AddedColumn("batches", "cancelled_at", "INTEGER"),
            new AddedColumn("batch_lines", "source", "TEXT"),
            new AddedColumn("batch_lines", "prompt", "TEXT"));

    private final Connection connection;
    private final ReentrantLock lock = new ReentrantLock();

    private Database(Connection connection) {
        this.connection = connection;
    }

    /** Opens (creating when missing) {@code file} and migrates its schema to the newest version. */
    public static Database open(Path file) throws SQLException {
        return open(file, MIGRATIONS.size());
    }

    /**
     * Opens {@code file} migrated to {@code version} at most, as an older release left it (the tests of
     * the migrations from an earlier version); a file already past it is left as it is.
     */
    static Database open(Path file, int version) throws SQLException {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (java.io.IOException e) {
            throw new SQLException("cannot create the directory of " + file + ": " + e.getMessage(), e);
        }
        Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        try (Statement statement = connection.createStatement()) {
            statement.execute("PRAGMA journal_mode=WAL");
            statement.execute("PRAGMA synchronous=FULL");
            statement.execute("PRAGMA foreign_keys=ON");
            statement.execute("PRAGMA busy_timeout=5000");
        }
        Database database = new Database(connection);
        database.migrate(version);
        return database;
    }

    /** The schema version this code writes. */
    public static int latestVersion() {
        return MIGRATIONS.size();
    }

    /** The schema version of the open file. */
    public int version() throws SQLException {
        return call(c -> {
            try (Statement statement = c.createStatement(); var rows = statement.executeQuery("PRAGMA user_version")) {
                return rows.getInt(1);
            }
        });
    }

    private void migrate(int upTo) throws SQLException {
        int version = version();
        if (version > MIGRATIONS.size()) {
            throw new SQLException("database schema version " + version + " is newer than this program's " + MIGRATIONS.size());
        }
        for (int v = version; v < upTo; v++) {
            int target = v + 1;
            String script = MIGRATIONS.get(v);
            transaction(c -> {
                try (Statement statement = c.createStatement()) {
                    for (String sql : splitStatements(script)) {
                        statement.execute(sql);
                    }
                    statement.execute("PRAGMA user_version=" + target);
                }
                return null;
            });
        }
        for (AddedColumn added : ADDED_COLUMNS) {
            transaction(c -> {
                if (!columns(c, added.table()).contains(added.column())) {
                    try (Statement statement = c.createStatement()) {
                        statement.execute("ALTER TABLE " + added.table() + " ADD COLUMN " + added.column() + " " + added.definition());
                    }
                }
                return null;
            });
        }
    }

    /** The column names of {@code table}. */
    private static java.util.Set<String> columns(Connection c, String table) throws SQLException {
        java.util.Set<String> names = new java.util.HashSet<>();
        try (Statement statement = c.createStatement(); var rows = statement.executeQuery("PRAGMA table_info(" + table + ")")) {
            while (rows.next()) {
                names.add(rows.getString("name"));
            }
        }
        return names;
    }

    /** Splits a script at semicolons that end a line, keeping trigger bodies (whose lines end in ";" inside BEGIN..END) whole. */
    private static List<String> splitStatements(String script) {
        List<String> statements = new java.util.ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean inTrigger = false;
        for (String line : script.split("\n")) {
            current.append(line).append('\n');
            String trimmed = line.strip();
            if (trimmed.startsWith("CREATE TRIGGER")) {
                inTrigger = true;
            }
            if (inTrigger ? trimmed.equals("END;") : trimmed.endsWith(";")) {
                statements.add(current.toString().strip());
                current.setLength(0);
                inTrigger = false;
            }
        }
        if (!current.toString().isBlank()) {
            statements.add(current.toString().strip());
        }
        return statements;
    }

    /** Runs {@code work} with the connection, holding it exclusively. */
    @Override
    public <T> T call(Work<T> work) throws SQLException {
        lock.lock();
        try {
            return work.apply(connection);
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code work} in one transaction, rolled back when it throws. */
    @Override
    public <T> T transaction(Work<T> work) throws SQLException {
        lock.lock();
        try {
            connection.setAutoCommit(false);
            try {
                T result = work.apply(connection);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() throws SQLException {
        lock.lock();
        try {
            connection.close();
        } finally {
            lock.unlock();
        }
    }
}
