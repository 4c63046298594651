package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A1111-style short hashes, cached by path, size and modification time. */
class ModelHasherTest {

    /** SHA-256("abc"), FIPS 180-2 test vector. */
    private static final String ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /** SHA-256("abd"). */
    private static final String ABD_SHA256 = "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9";

    @TempDir
    Path dir;

    @Test
    void shortHashIsTheFirstTenHexDigitsOfSha256() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Files.writeString(file, "abc", StandardCharsets.US_ASCII);
        ModelHasher hasher = new ModelHasher();
        assertEquals(ABC_SHA256, hasher.sha256(file));
        assertEquals("ba7816bf8f", hasher.shortHash(file));
    }

    @Test
    void cacheIsKeyedBySizeAndModificationTime() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Files.writeString(file, "abc", StandardCharsets.US_ASCII);
        FileTime time = FileTime.fromMillis(1_700_000_000_000L);
        Files.setLastModifiedTime(file, time);
        ModelHasher hasher = new ModelHasher();
        assertEquals(ABC_SHA256, hasher.sha256(file));
        // same size and time: the cached hash (proof the file is not read again)
        Files.writeString(file, "abd", StandardCharsets.US_ASCII);
        Files.setLastModifiedTime(file, time);
        assertEquals(ABC_SHA256, hasher.sha256(file));
        // a new modification time: hashed again
        Files.setLastModifiedTime(file, FileTime.fromMillis(1_700_000_001_000L));
        assertEquals(ABD_SHA256, hasher.sha256(file));
    }

    @Test
    void cacheFileSurvivesRestartsAndDamage() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Path cache = dir.resolve("cache/hashes.json");
        Files.writeString(file, "abc", StandardCharsets.US_ASCII);
        FileTime time = FileTime.fromMillis(1_700_000_000_000L);
        Files.setLastModifiedTime(file, time);
        assertEquals(ABC_SHA256, new ModelHasher(cache).sha256(file));

        Files.writeString(file, "abd", StandardCharsets.US_ASCII);
        Files.setLastModifiedTime(file, time);
        assertEquals(ABC_SHA256, new ModelHasher(cache).sha256(file), "read from the cache file");

        Files.writeString(cache, "{not json");
        assertEquals(ABD_SHA256, new ModelHasher(cache).sha256(file), "a damaged cache is ignored");
        assertEquals(ABD_SHA256, new ModelHasher(cache).sha256(file));
    }
}
