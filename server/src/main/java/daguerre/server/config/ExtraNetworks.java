package daguerre.server.config;

import java.nio.file.Path;

/**
 * Where LoRAs and textual-inversion embeddings are looked up (A1111's "extra networks"), and how much
 * memory loaded LoRAs may keep between requests.
 *
 * @param loraDir the LoRA folder ({@code --lora-dir}); null: {@code loras} in the data directory
 * @param embeddingsDir the embeddings folder ({@code --embeddings-dir}); null: {@code embeddings} in the data directory
 * @param loraCacheBytes the most bytes of LoRA factors cached ({@code --lora-cache}; 0: none)
 */
public record ExtraNetworks(Path loraDir, Path embeddingsDir, long loraCacheBytes) {

    /** The default LoRA cache: 1 GiB, a few typical SD 1.5 LoRAs or two SDXL ones. */
    public static final long DEFAULT_LORA_CACHE_BYTES = 1L << 30;

    public static final ExtraNetworks DEFAULTS = new ExtraNetworks(null, null, DEFAULT_LORA_CACHE_BYTES);

    public ExtraNetworks {
        if (loraCacheBytes < 0) {
            throw new IllegalArgumentException("lora-cache must not be negative, got " + loraCacheBytes);
        }
    }

    /** The LoRA folder, under {@code dataDir} unless one was given. */
    public Path loraDir(Path dataDir) {
        return loraDir != null ? loraDir : dataDir.resolve("loras");
    }

    /** The embeddings folder, under {@code dataDir} unless one was given. */
    public Path embeddingsDir(Path dataDir) {
        return embeddingsDir != null ? embeddingsDir : dataDir.resolve("embeddings");
    }
}
