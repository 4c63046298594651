package daguerre.diffusion.embeddings;

import daguerre.weights.safetensors.InvalidTensorFileException;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A textual-inversion embedding file (Gal et al. 2022) as A1111 reads a {@code .safetensors} one: a
 * single tensor of learned token vectors, [vectors, dim] or [dim] (A1111's own files call it
 * {@code emb_params}), or SDXL's pair {@code clip_l} [n, 768] and {@code clip_g} [n, 1280], one per text
 * encoder. Its trigger word is the file name without extension.
 *
 * @param name the trigger word
 * @param path the file
 * @param vectors per part ({@link #SINGLE}, or {@code clip_l} / {@code clip_g}): [count, dim] row-major
 * @param count the token positions it takes
 */
public record TextualInversion(String name, Path path, Map<String, float[]> vectors, int count) {

    /** The part of a one-tensor embedding (SD 1.x / 2.x). */
    public static final String SINGLE = "";
    /** SDXL's parts: for text encoder 1 (CLIP ViT-L) and 2 (OpenCLIP ViT-bigG). */
    public static final String CLIP_L = "clip_l";
    public static final String CLIP_G = "clip_g";

    public TextualInversion {
        vectors = Map.copyOf(vectors);
    }

    /** Whether this is an SDXL embedding (both parts). */
    public boolean isSdxl() {
        return vectors.containsKey(CLIP_L) && vectors.containsKey(CLIP_G);
    }

    /** The vector size of {@code part}, or 0 if it has none. */
    public int dim(String part) {
        float[] v = vectors.get(part);
        return v == null ? 0 : v.length / count;
    }

    /** Reads {@code file}; an error naming the file for any other layout or a non-finite value. */
    public static TextualInversion read(Path file, String name) throws IOException {
        try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
            TreeSet<String> names = new TreeSet<>(tensors.names());
            Map<String, float[]> vectors = new LinkedHashMap<>();
            int count;
            if (names.contains(CLIP_L) && names.contains(CLIP_G) && names.size() == 2) {
                count = rows(file, tensors, CLIP_L);
                if (rows(file, tensors, CLIP_G) != count) {
                    throw new InvalidTensorFileException(file, "clip_l and clip_g hold different numbers of vectors");
                }
                vectors.put(CLIP_L, finite(file, tensors, CLIP_L));
                vectors.put(CLIP_G, finite(file, tensors, CLIP_G));
            } else if (names.size() == 1) {
                count = rows(file, tensors, names.first());
                vectors.put(SINGLE, finite(file, tensors, names.first()));
            } else {
                throw new InvalidTensorFileException(file, "holds " + names.size() + " tensors " + List.copyOf(names)
                        + "; a textual-inversion embedding holds one ([vectors, dim], e.g. emb_params) or SDXL's clip_l and clip_g");
            }
            return new TextualInversion(name, file, vectors, count);
        }
    }

    private static int rows(Path file, SafetensorsFile tensors, String key) throws IOException {
        long[] shape = tensors.shape(key);
        if (shape.length == 1) {
            return 1;
        }
        if (shape.length != 2 || shape[0] < 1) {
            throw new InvalidTensorFileException(file, "tensor '" + key + "' has shape " + java.util.Arrays.toString(shape)
                    + "; embedding vectors are [vectors, dim]");
        }
        return Math.toIntExact(shape[0]);
    }

    private static float[] finite(Path file, SafetensorsFile tensors, String key) throws IOException {
        float[] values = tensors.floats(key);
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new InvalidTensorFileException(file, "tensor '" + key + "' holds a non-finite value");
            }
        }
        return values;
    }
}
