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
 * a client set survives a restart. For now: {@code CLIP_stop_at_last_layers}. The default model
 * ({@code sd_model_checkpoint}) is a setting of the whole service and lives in its database.
 */
final class A1111Options {

    static final String FILE_NAME = "a1111-options.json";
    static final String CLIP_SKIP = "CLIP_stop_at_last_layers";
    /** A1111's range for CLIP skip. */
    static final int MIN_CLIP_SKIP = 1;
    static final int MAX_CLIP_SKIP = 12;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private int clipSkip;

    private A1111Options(Path file, int clipSkip) {
        this.file = file;
        this.clipSkip = clipSkip;
    }

    /**
     * Reads the options stored in {@code dataDir}; none stored: A1111's defaults.
     *
     * @throws UncheckedIOException when the file cannot be read or holds no valid options (it is never guessed around)
     */
    static A1111Options load(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return new A1111Options(file, 1);
        }
        try {
            JsonNode stored = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            JsonNode clipSkip = stored == null ? null : stored.get(CLIP_SKIP);
            if (clipSkip == null) {
                return new A1111Options(file, 1);
            }
            if (!clipSkip.isIntegralNumber() || clipSkip.asInt() < MIN_CLIP_SKIP || clipSkip.asInt() > MAX_CLIP_SKIP) {
                throw new IOException(CLIP_SKIP + " must be an integer from " + MIN_CLIP_SKIP + " to " + MAX_CLIP_SKIP
                        + ", got " + clipSkip);
            }
            return new A1111Options(file, clipSkip.asInt());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the A1111 options in " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code CLIP_stop_at_last_layers}: the CLIP layer from the end whose output conditions the U-Net (1 = the last). */
    synchronized int clipSkip() {
        return clipSkip;
    }

    /** Sets {@code CLIP_stop_at_last_layers} (the caller checked its range) and stores the options. */
    synchronized void setClipSkip(int value) throws IOException {
        ObjectNode stored = JSON.createObjectNode().put(CLIP_SKIP, value);
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(stored));
        clipSkip = value;
    }
}
