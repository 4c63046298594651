package daguerre.server.config;

import daguerre.server.jobs.Database;
import daguerre.server.jobs.ImageEngine;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Settings clients may change while the service runs (A1111's {@code /sdapi/v1/options}),
 * kept in the {@code settings} table: for now the model used when a request names none.
 */
public final class RuntimeOptions {

    private static final String DEFAULT_MODEL = "default_model";

    private final Database database;
    private final ImageEngine engine;

    public RuntimeOptions(Database database, ImageEngine engine) {
        this.database = database;
        this.engine = engine;
    }

    /** The model used when a request names none: the stored choice while the engine still has it, else the engine's default. */
    public String defaultModel() throws SQLException {
        String stored = database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT value FROM settings WHERE key = ?")) {
                s.setString(1, DEFAULT_MODEL);
                try (ResultSet rows = s.executeQuery()) {
                    return rows.next() ? rows.getString(1) : null;
                }
            }
        });
        if (stored != null && engine.models().stream().anyMatch(m -> m.id().equals(stored))) {
            return stored;
        }
        return engine.defaultModelId();
    }

    /** Makes {@code modelId} the default model (the caller checked it exists). */
    public void setDefaultModel(String modelId) throws SQLException {
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO settings (key, value) VALUES (?, ?) "
                    + "ON CONFLICT(key) DO UPDATE SET value = excluded.value")) {
                s.setString(1, DEFAULT_MODEL);
                s.setString(2, modelId);
                return s.executeUpdate();
            }
        });
    }
}
