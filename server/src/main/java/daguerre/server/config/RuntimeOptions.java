package daguerre.server.config;

import daguerre.server.jobs.ImageEngine;
import java.sql.SQLException;

/**
 * Settings clients may change while the service runs (A1111's {@code /sdapi/v1/options}),
 * kept in a {@link SettingsStore}: for now the model used when a request names none.
 */
public final class RuntimeOptions {

    private static final String DEFAULT_MODEL = "default_model";

    private final SettingsStore store;
    private final ImageEngine engine;

    public RuntimeOptions(SettingsStore store, ImageEngine engine) {
        this.store = store;
        this.engine = engine;
    }

    /** The store the options live in (A1111's other options are kept there too in a cluster). */
    public SettingsStore store() {
        return store;
    }

    /** The model used when a request names none: the stored choice while the engine still has it, else the engine's default. */
    public String defaultModel() throws SQLException {
        String stored = store.get(DEFAULT_MODEL);
        if (stored != null && engine.models().stream().anyMatch(m -> m.id().equals(stored))) {
            return stored;
        }
        return engine.defaultModelId();
    }

    /** Makes {@code modelId} the default model (the caller checked it exists). */
    public void setDefaultModel(String modelId) throws SQLException {
        store.put(DEFAULT_MODEL, modelId);
    }
}
