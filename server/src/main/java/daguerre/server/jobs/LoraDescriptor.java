package daguerre.server.jobs;

import java.util.Map;

/**
 * A LoRA file the engine can run, as the listing routes show it.
 *
 * @param name what {@code <lora:name:w>} and the native {@code loras} call it (the file name without extension)
 * @param path where it lies
 * @param bytes its size
 * @param metadata its safetensors {@code __metadata__} (kohya's training settings), for display
 */
public record LoraDescriptor(String name, String path, long bytes, Map<String, String> metadata) {

    public LoraDescriptor {
        metadata = Map.copyOf(metadata);
    }
}
