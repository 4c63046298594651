package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.config.SettingsStore;
import daguerre.server.files.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;

/**
 * The A1111 options ({@code /sdapi/v1/options}) that only the A1111-compatible API reads, kept in
 * {@code a1111-options.json} in the data directory (written whole or not at all), so that a value
 * a client set survives a restart: {@code CLIP_stop_at_last_layers}, and SDXL's crop conditioning
 * {@code sdxl_crop_top} and {@code sdxl_crop_left}. In a cluster they are a setting in PostgreSQL that
 * every api node reads instead. The default model ({@code sd_model_checkpoint}) is a setting of the
 * whole service and lives in its database.
 */
final class A1111Options {

    static final String FILE_NAME = "a1111-options.json";
    static final String CLIP_SKIP = "CLIP_stop_at_last_layers";
    /** A1111's range for CLIP skip. */
    static final int MIN_CLIP_SKIP = 1;
    static final int MAX_CLIP_SKIP = 12;
    /** A1111's SDXL crop coordinates ({@code crops_coords_top_left} of every SDXL generation; default 0). */
    static final String SDXL_CROP_TOP = "sdxl_crop_top";
    static final String SDXL_CROP_LEFT = "sdxl_crop_left";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The stored values. */
    record Values(int clipSkip, int sdxlCropTop, int sdxlCropLeft) {
        static final Values DEFAULTS = new Values(1, 0, 0);
    }

    /** Where the options are kept: a file of the data directory, or a setting every node of a cluster shares. */
    interface Storage {
        /** The stored JSON, or null when none is stored. */
        String read() throws IOException;

        void write(byte[] json) throws IOException;

        /** Where, for error messages. */
        String describe();
    }

    private final Storage storage;

    private A1111Options(Storage storage) {
        this.storage = storage;
    }

    /**
     * The options stored in {@code dataDir}; none stored: A1111's defaults.
     *
     * @throws UncheckedIOException when the file cannot be read or holds no valid options (it is never guessed around)
     */
    static A1111Options load(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        return checked(new A1111Options(new Storage() {
            @Override
            public String read() throws IOException {
                return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : null;
            }

            @Override
            public void write(byte[] json) throws IOException {
                AtomicFiles.write(file, json);
            }

            @Override
            public String describe() {
                return file.toString();
            }
        }));
    }

    /** The options kept under {@code key} of a settings store every node of a cluster shares; read at every use. */
    static A1111Options shared(SettingsStore store, String key) {
        return checked(new A1111Options(new Storage() {
            @Override
            public String read() throws IOException {
                try {
                    return store.get(key);
                } catch (SQLException e) {
                    throw new IOException("the settings database is unavailable: " + e.getMessage(), e);
                }
            }

            @Override
            public void write(byte[] json) throws IOException {
                try {
                    store.put(key, new String(json, StandardCharsets.UTF_8));
                } catch (SQLException e) {
                    throw new IOException("the settings database is unavailable: " + e.getMessage(), e);
                }
            }

            @Override
            public String describe() {
                return "the shared setting " + key;
            }
        }));
    }

    /** {@code options}, once their stored values were read and found valid. */
    private static A1111Options checked(A1111Options options) {
        options.values();
        return options;
    }

    /** The most a crop coordinate may be (as the native API's micro-conditioning). */
    static final int MAX_CROP = daguerre.diffusion.pipeline.MicroConditioning.MAX_VALUE;

    private static int stored(JsonNode stored, String name, int fallback, int min, int max) throws IOException {
        JsonNode value = stored.get(name);
        if (value == null) {
            return fallback;
        }
        if (!value.isIntegralNumber() || value.asLong() < min || value.asLong() > max) {
            throw new IOException(name + " must be an integer from " + min + " to " + max + ", got " + value);
        }
        return value.asInt();
    }

    /**
     * The stored values; none stored: A1111's defaults.
     *
     * @throws UncheckedIOException when they cannot be read or are not valid options (they are never guessed around)
     */
    synchronized Values values() {
        try {
            String text = storage.read();
            if (text == null) {
                return Values.DEFAULTS;
            }
            JsonNode stored = JSON.readTree(text);
            if (stored == null || !stored.isObject()) {
                throw new IOException("not a JSON object");
            }
            return new Values(stored(stored, CLIP_SKIP, 1, MIN_CLIP_SKIP, MAX_CLIP_SKIP),
                    stored(stored, SDXL_CROP_TOP, 0, 0, MAX_CROP), stored(stored, SDXL_CROP_LEFT, 0, 0, MAX_CROP));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the A1111 options in " + storage.describe() + ": " + e.getMessage(), e);
        }
    }

    /** Stores {@code newValues} (the caller checked their ranges), written whole or not at all. */
    synchronized void set(Values newValues) throws IOException {
        ObjectNode stored = JSON.createObjectNode().put(CLIP_SKIP, newValues.clipSkip())
                .put(SDXL_CROP_TOP, newValues.sdxlCropTop()).put(SDXL_CROP_LEFT, newValues.sdxlCropLeft());
        storage.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(stored));
    }
}
