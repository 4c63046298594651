package daguerre.diffusion.lora;

import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.NamedFiles;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.UnsafeCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A folder of LoRA files, looked up as A1111 does by file name without extension (in the folder or
 * any folder below it), and the LoRAs read from it, cached: least recently used first out once the
 * cached LoRAs' factors exceed {@code cacheBytes}. A LoRA is read against a model (its names and
 * shapes), so a file used with two models is cached twice.
 */
public final class LoraLibrary {

    /** The extension of the files listed. */
    public static final String EXTENSION = ".safetensors";

    /** A LoRA file of the folder. */
    public record Entry(String name, Path path, long bytes) {}

    private record Key(Path path, long size, long modifiedMillis, String model) {}

    private final Path folder;
    private final long cacheBytes;
    private final ModelHasher hasher;
    private final LinkedHashMap<Key, LoraFile> cache = new LinkedHashMap<>(16, 0.75f, true);
    private long cachedBytes;

    /**
     * @param folder the LoRA folder (need not exist: then it lists nothing)
     * @param cacheBytes the most bytes of LoRA factors kept in memory between requests (0: none)
     * @param hasher computes and caches the files' A1111 hashes
     */
    public LoraLibrary(Path folder, long cacheBytes, ModelHasher hasher) {
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("the LoRA cache size must not be negative, got " + cacheBytes);
        }
        this.folder = folder.toAbsolutePath().normalize();
        this.cacheBytes = cacheBytes;
        this.hasher = hasher;
    }

    public Path folder() {
        return folder;
    }

    public long cacheBytes() {
        return cacheBytes;
    }

    /** Every {@code .safetensors} file in the folder and below, by name; where two share a name, the first path in order wins. */
    public List<Entry> list() {
        return NamedFiles.list(folder, List.of(EXTENSION)).stream().map(f -> new Entry(f.name(), f.path(), f.bytes())).toList();
    }

    /**
     * The file {@code nameOrPath} names: a LoRA of the folder by name, else a path to a
     * {@code .safetensors} file; a clear error for anything else (pickle files are refused).
     */
    public Path resolve(String nameOrPath) {
        Optional<Entry> named = list().stream().filter(e -> e.name().equals(nameOrPath)).findFirst();
        if (named.isPresent()) {
            return named.get().path();
        }
        Path path = Path.of(nameOrPath);
        if (UnsafeCheckpointException.hasPickleExtension(path)) {
            throw new InvalidRequestException("loras", "LoRA '" + nameOrPath + "' is a pickle file; only .safetensors LoRAs "
                    + "are read, because unpickling can execute arbitrary code: convert it to .safetensors");
        }
        if (path.getFileName() != null && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(EXTENSION)
                && Files.isRegularFile(path)) {
            return path.toAbsolutePath().normalize();
        }
        List<String> names = list().stream().map(Entry::name).toList();
        throw new InvalidRequestException("loras", "no LoRA named '" + nameOrPath + "' in " + folder
                + (names.isEmpty() ? " (the folder has none)" : " (it has: " + String.join(", ", names.subList(0, Math.min(20, names.size())))
                + (names.size() > 20 ? ", ..." : "") + ")"));
    }

    /** The LoRA {@code nameOrPath} names, read against {@code model}: from the cache when the file is unchanged. */
    public LoraFile load(String nameOrPath, StableDiffusionModel model) throws IOException {
        Path path = resolve(nameOrPath);
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
        Key key = new Key(path, attributes.size(), attributes.lastModifiedTime().toMillis(), model.id() + "@" + model.hash());
        synchronized (cache) {
            LoraFile cached = cache.get(key);
            if (cached != null) {
                return cached;
            }
        }
        LoraFile lora = LoraMerger.read(path, model);
        synchronized (cache) {
            LoraFile raced = cache.putIfAbsent(key, lora);
            if (raced != null) {
                return raced;
            }
            cachedBytes += lora.byteSize();
            evict();
            return lora;
        }
    }

    /** Bytes of LoRA factors the cache holds now. */
    public long cachedBytes() {
        synchronized (cache) {
            return cachedBytes;
        }
    }

    /** A1111's short hash of a LoRA file (see {@link ModelHasher#loraShortHash}). */
    public String shortHash(Path file) throws IOException {
        return hasher.loraShortHash(file);
    }

    /** The file's {@code __metadata__} (kohya's training settings, for display), without reading its tensors. */
    public static Map<String, String> metadata(Path file) throws IOException {
        try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
            return tensors.metadata();
        }
    }

    private void evict() {
        for (Iterator<Map.Entry<Key, LoraFile>> it = cache.entrySet().iterator(); it.hasNext() && cachedBytes > cacheBytes; ) {
            cachedBytes -= it.next().getValue().byteSize();
            it.remove();
        }
    }
}
