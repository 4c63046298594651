package daguerre.server.config;

import daguerre.server.jobs.SqlDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Named settings the service keeps across restarts: the {@code settings} table of the one
 * process's SQLite database, or of the PostgreSQL database a cluster's nodes share (so that every
 * api node reads what a client set through any of them).
 */
public interface SettingsStore {

    /** The stored value, or null. */
    String get(String key) throws SQLException;

    /** Stores {@code value} under {@code key}, replacing what was there. */
    void put(String key, String value) throws SQLException;

    /** The {@code settings} table of a database: the one process's SQLite database, or a cluster's PostgreSQL one. */
    static SettingsStore of(SqlDatabase database) {
        return new SettingsStore() {
            @Override
            public String get(String key) throws SQLException {
                return database.call(c -> read(c, key));
            }

            @Override
            public void put(String key, String value) throws SQLException {
                database.call(c -> write(c, key, value));
            }
        };
    }

    /** The value of {@code key} in a {@code settings} table, or null (the same SQL in SQLite and PostgreSQL). */
    static String read(Connection c, String key) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT value FROM settings WHERE key = ?")) {
            s.setString(1, key);
            try (ResultSet rows = s.executeQuery()) {
                return rows.next() ? rows.getString(1) : null;
            }
        }
    }

    /** Stores {@code value} under {@code key} in a {@code settings} table; returns the rows changed (1). */
    static int write(Connection c, String key, String value) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO settings (key, value) VALUES (?, ?) "
                + "ON CONFLICT (key) DO UPDATE SET value = excluded.value")) {
            s.setString(1, key);
            s.setString(2, value);
            return s.executeUpdate();
        }
    }
}
