package daguerre.server.cluster;

import daguerre.server.config.SettingsStore;
import daguerre.server.jobs.SqlDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Properties;

/**
 * The cluster's PostgreSQL database: a few pooled JDBC connections (each checked before use, so
 * that a restarted server is reconnected to) and versioned schema migrations, tracked in the
 * {@code daguerre_schema} table and applied under an advisory lock, so that nodes starting at once
 * migrate once. The SQLite migrations stay in {@link daguerre.server.jobs.Database}; this is the
 * PostgreSQL dialect's list.
 */
public final class PgDatabase implements SqlDatabase, AutoCloseable {

    /** Schema migrations; migration i (0-based) brings the schema from version i to i + 1. Append only. */
    static final List<String> MIGRATIONS = List.of(
            """
            CREATE TABLE jobs (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL,
                model TEXT NOT NULL,
                request TEXT NOT NULL,
                init_image BYTEA,
                created_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT,
                step INTEGER NOT NULL DEFAULT 0,
                total INTEGER NOT NULL DEFAULT 0,
                error_code TEXT,
                error_message TEXT,
                image_ids TEXT NOT NULL DEFAULT '[]',
                requeued INTEGER NOT NULL DEFAULT 0,
                crash_restarts INTEGER NOT NULL DEFAULT 0,
                worker TEXT,
                lease_token TEXT,
                lease_until TIMESTAMPTZ,
                cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
            );
            CREATE INDEX jobs_by_state ON jobs(state, seq);
            CREATE TABLE images (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                job_id TEXT,
                file TEXT NOT NULL,
                prompt TEXT NOT NULL,
                negative_prompt TEXT NOT NULL,
                model TEXT NOT NULL,
                sampler TEXT NOT NULL,
                seed BIGINT NOT NULL,
                steps INTEGER NOT NULL,
                guidance_scale DOUBLE PRECISION NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                favorite BOOLEAN NOT NULL DEFAULT FALSE,
                infotext TEXT NOT NULL,
                request TEXT NOT NULL,
                worker TEXT
            );
            CREATE INDEX images_by_created ON images(created_at);
            CREATE INDEX images_by_job ON images(job_id);
            CREATE TABLE models (
                id TEXT PRIMARY KEY,
                descriptor TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            );
            """,
            // the api nodes serve A1111, OpenAI and the gallery: images not saved to the gallery, watched jobs,
            // shared runtime options, prompt search
            """
            ALTER TABLE jobs ADD COLUMN save_to_gallery BOOLEAN NOT NULL DEFAULT TRUE;
            ALTER TABLE jobs ADD COLUMN watched BOOLEAN NOT NULL DEFAULT FALSE;
            CREATE TABLE job_results (
                job_id TEXT NOT NULL,
                idx INTEGER NOT NULL,
                png BYTEA NOT NULL,
                seed BIGINT NOT NULL,
                infotext TEXT NOT NULL,
                PRIMARY KEY (job_id, idx)
            );
            CREATE TABLE settings (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );
            CREATE INDEX images_by_text ON images USING GIN (to_tsvector('simple', prompt || ' ' || negative_prompt));
            """,
            // boards (named albums), as on one machine: an image is on at most one, a deleted board leaves its
            // images unboarded; names are unique regardless of case
            """
            CREATE TABLE boards (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                created_at BIGINT NOT NULL
            );
            CREATE UNIQUE INDEX boards_by_name ON boards (lower(name));
            ALTER TABLE images ADD COLUMN board_id TEXT REFERENCES boards(id) ON DELETE SET NULL;
            CREATE INDEX images_by_board ON images(board_id, seq);
            """,
            // batches (prompt files) on the api nodes: which job each line became, or why it did not; seq orders the list
            """
            CREATE TABLE batches (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                name TEXT,
                created_at BIGINT NOT NULL,
                cancelled_at BIGINT
            );
            CREATE TABLE batch_lines (
                batch_id TEXT NOT NULL REFERENCES batches(id),
                line INTEGER NOT NULL,
                source TEXT,
                prompt TEXT,
                job_id TEXT,
                error_code TEXT,
                error_message TEXT,
                error_field TEXT,
                PRIMARY KEY (batch_id, line)
            );
            """);

    private static final int POOL = 4;
    private static final long MIGRATION_LOCK = 0x6461677565727265L; // "daguerre"

    private final String url;
    private final Properties credentials = new Properties();
    private final Deque<Connection> idle = new ArrayDeque<>();
    private boolean closed;

    private PgDatabase(String url, String user, String password) {
        this.url = url;
        if (user != null) {
            credentials.setProperty("user", user);
        }
        if (password != null) {
            credentials.setProperty("password", password);
        }
        credentials.setProperty("connectTimeout", "5");
        credentials.setProperty("socketTimeout", "30");
        credentials.setProperty("ApplicationName", "daguerre");
    }

    /** Connects and migrates the schema to the newest version. */
    public static PgDatabase open(String url, String user, String password) throws SQLException {
        PgDatabase database = new PgDatabase(url, user, password);
        database.migrate();
        return database;
    }

    /** The schema version this code writes. */
    public static int latestVersion() {
        return MIGRATIONS.size();
    }

    /** The schema version of the database. */
    public int version() throws SQLException {
        return call(PgDatabase::version);
    }

    private static int version(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS daguerre_schema (version INTEGER NOT NULL)");
            try (ResultSet rows = s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM daguerre_schema")) {
                rows.next();
                return rows.getInt(1);
            }
        }
    }

    private void migrate() throws SQLException {
        transaction(c -> {
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                lock.setLong(1, MIGRATION_LOCK);
                lock.execute();
            }
            int version = version(c);
            if (version > MIGRATIONS.size()) {
                throw new SQLException("database schema version " + version + " is newer than this program's " + MIGRATIONS.size());
            }
            try (Statement s = c.createStatement()) {
                for (int v = version; v < MIGRATIONS.size(); v++) {
                    s.execute(MIGRATIONS.get(v));
                    s.execute("INSERT INTO daguerre_schema (version) VALUES (" + (v + 1) + ")");
                }
            }
            return null;
        });
    }

    /** Runs {@code work} with a pooled connection in auto-commit mode. */
    @Override
    public <T> T call(Work<T> work) throws SQLException {
        Connection c = borrow();
        boolean healthy = false;
        try {
            T result = work.apply(c);
            healthy = true;
            return result;
        } finally {
            giveBack(c, healthy);
        }
    }

    /** Runs {@code work} in one transaction, rolled back when it throws. */
    @Override
    public <T> T transaction(Work<T> work) throws SQLException {
        Connection c = borrow();
        boolean healthy = false;
        try {
            c.setAutoCommit(false);
            try {
                T result = work.apply(c);
                c.commit();
                healthy = true;
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is gone; it is dropped below
                }
                throw e;
            } finally {
                try {
                    c.setAutoCommit(true);
                } catch (SQLException e) {
                    healthy = false;
                }
            }
        } finally {
            giveBack(c, healthy);
        }
    }

    /** The {@code settings} table: runtime options every node shares. */
    public SettingsStore settings() {
        return SettingsStore.of(this);
    }

    private Connection borrow() throws SQLException {
        while (true) {
            Connection c;
            synchronized (this) {
                if (closed) {
                    throw new SQLException("the database is closed");
                }
                c = idle.pollFirst();
            }
            if (c == null) {
                return DriverManager.getConnection(url, credentials);
            }
            if (c.isValid(2)) {
                return c;
            }
            closeQuietly(c);
        }
    }

    private void giveBack(Connection c, boolean healthy) {
        synchronized (this) {
            if (healthy && !closed && idle.size() < POOL) {
                idle.addFirst(c);
                return;
            }
        }
        closeQuietly(c);
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing a broken connection
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        idle.forEach(PgDatabase::closeQuietly);
        idle.clear();
    }
}
