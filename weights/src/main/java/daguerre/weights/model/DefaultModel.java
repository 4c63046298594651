package daguerre.weights.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds Daguerre's own default model, a diffusers folder that ships with the project.
 *
 * <p>In a source checkout it is {@code weights/default/model} and is read in place. Inside the jar
 * the same files are resources under {@value #RESOURCE_ROOT}, listed with their SHA-256 in
 * {@value #MANIFEST}; they are unpacked once into a cache folder named after the manifest's hash
 * ({@code $DAGUERRE_CACHE_DIR}, else {@code $XDG_CACHE_HOME/daguerre}, else
 * {@code ~/.cache/daguerre}), verified, and memory-mapped from there.
 */
public final class DefaultModel {

    /** Where the model folder lies in a source checkout, relative to the repository root. */
    public static final String SOURCE_FOLDER = "weights/default/model";
    /** The class-path folder holding the model's files in the jar. */
    public static final String RESOURCE_ROOT = "daguerre/default-model/";
    /** The manifest: one line per file, {@code <sha256 hex>  <relative path>}. */
    public static final String MANIFEST = "MANIFEST.sha256";

    private DefaultModel() {}

    /** The default model's folder, or empty when this build ships none. */
    public static Optional<Path> locate() {
        Optional<Path> checkout = inSourceCheckout(Path.of("").toAbsolutePath());
        if (checkout.isPresent()) {
            return checkout;
        }
        try {
            return unpackFromClassPath(DefaultModel.class.getClassLoader(), cacheRoot());
        } catch (IOException e) {
            throw new UncheckedIOException("could not unpack the default model into " + cacheRoot() + ": " + e.getMessage(), e);
        }
    }

    /** {@code weights/default/model} in {@code start} or one of its parents, when it holds a model. */
    public static Optional<Path> inSourceCheckout(Path start) {
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve(SOURCE_FOLDER);
            if (Files.isRegularFile(candidate.resolve("model_index.json"))) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The cache folder for unpacked models. */
    public static Path cacheRoot() {
        String explicit = System.getenv("DAGUERRE_CACHE_DIR");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("daguerre");
    }

    /**
     * Unpacks the class-path copy (if any) under {@code cacheRoot}, once: an existing, complete
     * copy is reused; a new one is written to a temporary folder, verified and renamed into place.
     */
    public static Optional<Path> unpackFromClassPath(ClassLoader loader, Path cacheRoot) throws IOException {
        byte[] manifest;
        try (InputStream in = loader.getResourceAsStream(RESOURCE_ROOT + MANIFEST)) {
            if (in == null) {
                return Optional.empty();
            }
            manifest = in.readAllBytes();
        }
        String id = sha256(manifest).substring(0, 16);
        Path target = cacheRoot.resolve("default-model-" + id);
        if (Files.isRegularFile(target.resolve(MANIFEST))) {
            return Optional.of(target);
        }
        Files.createDirectories(cacheRoot);
        Path temp = Files.createTempDirectory(cacheRoot, ".default-model-");
        try {
            for (Entry entry : parse(new String(manifest, StandardCharsets.UTF_8))) {
                Path file = temp.resolve(entry.path());
                Files.createDirectories(file.getParent());
                try (InputStream in = loader.getResourceAsStream(RESOURCE_ROOT + entry.path())) {
                    if (in == null) {
                        throw new IOException("the jar's default model lacks " + entry.path());
                    }
                    Files.copy(in, file);
                }
                String actual = sha256(file);
                if (!actual.equals(entry.sha256())) {
                    throw new IOException("the jar's default model file " + entry.path() + " has SHA-256 " + actual
                            + ", the manifest says " + entry.sha256());
                }
            }
            Files.write(temp.resolve(MANIFEST), manifest);
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException e) {
                if (!Files.isRegularFile(target.resolve(MANIFEST))) {
                    throw e;
                }
                // another process unpacked it first
            }
            return Optional.of(target);
        } finally {
            deleteRecursively(temp);
        }
    }

    /** One manifest line. */
    public record Entry(String sha256, String path) {}

    /** Parses a manifest; refuses absolute paths and {@code ..}. */
    public static List<Entry> parse(String manifest) throws IOException {
        List<Entry> entries = new ArrayList<>();
        for (String line : manifest.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.strip().split("\\s+", 2);
            if (parts.length != 2 || !parts[0].matches("[0-9a-f]{64}") || parts[1].startsWith("/") || parts[1].contains("..")) {
                throw new IOException("malformed default-model manifest line: " + line);
            }
            entries.add(new Entry(parts[0], parts[1]));
        }
        return entries;
    }

    /** Writes {@value #MANIFEST} for every file under {@code folder} (the shipping step). */
    public static void writeManifest(Path folder) throws IOException {
        StringBuilder out = new StringBuilder();
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                String relative = folder.relativize(file).toString().replace('\\', '/');
                if (!relative.equals(MANIFEST)) {
                    out.append(sha256(file)).append("  ").append(relative).append('\n');
                }
            }
        }
        Files.writeString(folder.resolve(MANIFEST), out.toString());
    }

    /** Command-line entry: {@code DefaultModel FOLDER} writes the folder's manifest. */
    public static void main(String[] args) throws IOException {
        writeManifest(Path.of(args[0]));
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest())) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
