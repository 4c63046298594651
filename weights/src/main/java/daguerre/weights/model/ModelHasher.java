package daguerre.weights.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Model hashes as AUTOMATIC1111 shows them: the SHA-256 of the weights file, shortened to its first
 * 10 hex digits ({@code sd_model_hash}, e.g. in PNG "Model hash:" parameters).
 *
 * <p>Hashing a multi-gigabyte checkpoint takes seconds, so results are cached, keyed by the file's
 * absolute path, size and modification time (a replaced file is hashed again). The cache lives in
 * memory and, when a cache file is given, also in that small JSON file, so restarts do not rehash
 * every model (as A1111's own {@code cache.json} does). The cache file is rewritten atomically; an
 * unreadable one is ignored and replaced.
 */
public final class ModelHasher {

    /** Hex digits of A1111's short model hash. */
    public static final int SHORT_HASH_LENGTH = 10;

    private static final ObjectMapper JSON = new ObjectMapper();

    private record Entry(long size, long modifiedMillis, String sha256) {}

    private final Path cacheFile;
    private final Map<String, Entry> cache = new ConcurrentHashMap<>();

    /** A hasher caching in memory only. */
    public ModelHasher() {
        this.cacheFile = null;
    }

    /** A hasher caching in memory and in {@code cacheFile} (created on first use). */
    public ModelHasher(Path cacheFile) {
        this.cacheFile = cacheFile.toAbsolutePath();
        load();
    }

    /** The first 10 hex digits of the file's SHA-256, as A1111 shows a model hash. */
    public String shortHash(Path file) throws IOException {
        return sha256(file).substring(0, SHORT_HASH_LENGTH);
    }

    /** Hex digits of A1111's short LoRA and embedding hashes ({@code Lora hashes:}, {@code TI hashes:}). */
    public static final int SHORT_NETWORK_HASH_LENGTH = 12;

    /**
     * A1111's LoRA hash ({@code Lora hashes: "name: 0123456789ab"}): the first 12 hex digits of the
     * SHA-256 of a safetensors file's tensor data, everything after its 8-byte length and JSON header
     * (kohya's "addnet" hash, so that editing the metadata keeps the hash).
     */
    public String loraShortHash(Path file) throws IOException {
        return cached("addnet:", file, true).substring(0, SHORT_NETWORK_HASH_LENGTH);
    }

    /** The full lowercase hex SHA-256 of {@code file}, from the cache when the file is unchanged. */
    public String sha256(Path file) throws IOException {
        return cached("", file, false);
    }

    private String cached(String kind, Path file, boolean afterSafetensorsHeader) throws IOException {
        String key = kind + file.toAbsolutePath().normalize();
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        long size = attributes.size();
        long modified = attributes.lastModifiedTime().toMillis();
        Entry cached = cache.get(key);
        if (cached != null && cached.size() == size && cached.modifiedMillis() == modified) {
            return cached.sha256();
        }
        String hash = digest(file, afterSafetensorsHeader);
        cache.put(key, new Entry(size, modified, hash));
        save();
        return hash;
    }

    private static String digest(Path file, boolean afterSafetensorsHeader) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM lacks SHA-256", e);
        }
        byte[] buffer = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            if (afterSafetensorsHeader) {
                byte[] length = in.readNBytes(8);
                if (length.length < 8) {
                    throw new IOException(file + " is not a safetensors file: shorter than its 8-byte header length");
                }
                long header = java.nio.ByteBuffer.wrap(length).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
                if (header < 0 || header > Files.size(file) - 8) {
                    throw new IOException(file + " is not a safetensors file: its header length " + header + " exceeds the file");
                }
                in.skipNBytes(header);
            }
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private void load() {
        if (!Files.isRegularFile(cacheFile)) {
            return;
        }
        try {
            JsonNode root = JSON.readTree(cacheFile.toFile());
            root.fields().forEachRemaining(e -> {
                JsonNode v = e.getValue();
                if (v.has("size") && v.has("mtime") && v.has("sha256")) {
                    cache.put(e.getKey(), new Entry(v.get("size").asLong(), v.get("mtime").asLong(), v.get("sha256").asText()));
                }
            });
        } catch (IOException | RuntimeException e) {
            cache.clear(); // a damaged cache only costs rehashing
        }
    }

    private synchronized void save() throws IOException {
        if (cacheFile == null) {
            return;
        }
        ObjectNode root = JSON.createObjectNode();
        cache.forEach((path, entry) -> root.putObject(path)
                .put("size", entry.size()).put("mtime", entry.modifiedMillis()).put("sha256", entry.sha256()));
        Path dir = cacheFile.getParent();
        Files.createDirectories(dir);
        Path temporary = Files.createTempFile(dir, "." + cacheFile.getFileName() + ".", ".tmp");
        try {
            JSON.writerWithDefaultPrettyPrinter().writeValue(temporary.toFile(), root);
            try {
                Files.move(temporary, cacheFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, cacheFile, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
