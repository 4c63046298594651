package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.files.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The A1111 options ({@code /sdapi/v1/options}) that only the A1111-compatible API reads, kept in
 * {@code a1111-options.json} in the data directory (written whole or not at all), so that a value
 * a client set survives a restart: {@code CLIP_stop_at_last_layers}, and SDXL's crop conditioning
 * {@code sdxl_crop_top} and {@code sdxl_crop_left}. The default model ({@code sd_model_checkpoint})
 * is a setting of the whole service and lives in its database.
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

    private final Path file;
    private Values values;

    private A1111Options(Path file, Values values) {
        this.file = file;
        this.values = values;
    }

    /**
     * Reads the options stored in {@code dataDir}; none stored: A1111's defaults.
     *
     * @throws UncheckedIOException when the file cannot be read or holds no valid options (it is never guessed around)
     */
    static A1111Options load(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return new A1111Options(file, Values.DEFAULTS);
        }
        try {
            JsonNode stored = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (stored == null || !stored.isObject()) {
                throw new IOException("not a JSON object");
            }
            return new A1111Options(file, new Values(stored(stored, CLIP_SKIP, 1, MIN_CLIP_SKIP, MAX_CLIP_SKIP),
                    stored(stored, SDXL_CROP_TOP, 0, 0, MAX_CROP), stored(stored, SDXL_CROP_LEFT, 0, 0, MAX_CROP)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the A1111 options in " + file + ": " + e.getMessage(), e);
        }
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

    /** The stored values. */
    synchronized Values values() {
        return values;
    }

    /** Stores {@code newValues} (the caller checked their ranges), written whole or not at all. */
    synchronized void set(Values newValues) throws IOException {
        ObjectNode stored = JSON.createObjectNode().put(CLIP_SKIP, newValues.clipSkip())
                .put(SDXL_CROP_TOP, newValues.sdxlCropTop()).put(SDXL_CROP_LEFT, newValues.sdxlCropLeft());
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(stored));
        values = newValues;
    }
}
