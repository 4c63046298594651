package daguerre.weights;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Locates the golden reference vectors exported from the reference Python implementations.
 *
 * <p>The folder comes from the system property {@code golden.dir} (default {@code ../shared/golden});
 * a relative path is resolved against the repository root, passed by Maven as {@code daguerre.root}.
 * A missing or empty folder fails the calling test with a clear message: parity tests never skip.
 */
public final class Golden {

    private static final ObjectMapper JSON = new ObjectMapper();

    private Golden() {}

    /** The golden root folder, checked to exist and be non-empty. */
    public static Path dir() {
        String configured = System.getProperty("golden.dir", "../shared/golden");
        Path path = Path.of(configured);
        if (!path.isAbsolute()) {
            String root = System.getProperty("daguerre.root");
            path = (root == null || root.isBlank() ? Path.of("") : Path.of(root)).resolve(path);
        }
        path = path.toAbsolutePath().normalize();
        if (!Files.isDirectory(path)) {
            fail("golden folder not found: " + path + " (set -Dgolden.dir=DIR; relative paths resolve against the repository root)");
        }
        try (Stream<Path> entries = Files.list(path)) {
            if (entries.findAny().isEmpty()) {
                fail("golden folder is empty: " + path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return path;
    }

    /** One case folder, e.g. {@code caseDir("schedulers")}, checked to exist. */
    public static Path caseDir(String name) {
        Path dir = dir().resolve(name);
        if (!Files.isDirectory(dir)) {
            fail("golden case folder missing: " + dir);
        }
        return dir;
    }

    /** A file inside a case folder, checked to exist. */
    public static Path file(String caseName, String fileName) {
        Path file = caseDir(caseName).resolve(fileName);
        if (!Files.isRegularFile(file)) {
            fail("golden file missing: " + file);
        }
        return file;
    }

    /** Opens a safetensors file of a case. */
    public static SafetensorsFile tensors(String caseName, String fileName) {
        try {
            return SafetensorsFile.open(file(caseName, fileName));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses a JSON file of a case. */
    public static JsonNode json(String caseName, String fileName) {
        try {
            return JSON.readTree(file(caseName, fileName).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
