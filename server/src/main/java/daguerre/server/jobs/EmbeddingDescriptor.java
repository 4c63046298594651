package daguerre.server.jobs;

/**
 * A textual-inversion embedding of the embeddings folder, as the listing routes show it for one model.
 *
 * @param name its trigger word (the file name without extension)
 * @param path where it lies
 * @param vectors the token positions it takes (0 when unreadable)
 * @param dim its vector size (for SDXL that of its clip_g part; 0 when unreadable)
 * @param skippedBecause why the model cannot use it, or null when it can
 */
public record EmbeddingDescriptor(String name, String path, int vectors, int dim, String skippedBecause) {}
