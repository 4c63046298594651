package daguerre.weights.layout;

import daguerre.weights.TensorSource;
import daguerre.weights.safetensors.DType;
import java.io.IOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A {@link TensorSource} presenting the tensors of another source under new (canonical) names.
 *
 * <p>Each canonical tensor is one source tensor, optionally transformed by one of the three
 * transforms that original single-file checkpoints need (declared here, in one place):
 * <ul>
 *   <li>{@link Transform#SQUEEZE}: drop the trailing size-1 dimensions of a 1x1 convolution weight
 *       {@code [out, in, 1, 1]} to present it as a linear weight {@code [out, in]} (same values);</li>
 *   <li>{@link Transform#ROWS}: one of {@code parts} equal row blocks of a fused tensor, e.g. the
 *       query, key or value third of OpenCLIP's {@code attn.in_proj_weight [3D, D]};</li>
 *   <li>{@link Transform#TRANSPOSE}: a matrix {@code [in, out]} that its model multiplies from the
 *       right ({@code x @ W}, OpenCLIP's {@code text_projection}) presented as a linear weight
 *       {@code [out, in]}.</li>
 * </ul>
 */
public final class RenamedTensorSource implements TensorSource {

    /** The transforms a view may apply. */
    public enum Transform { NONE, SQUEEZE, ROWS, TRANSPOSE }

    /** How one canonical tensor is read: its source key, transform and, for ROWS, which block. */
    public record Entry(String sourceKey, Transform transform, int part, int parts) {

        /** The source key as the golden key maps write it: {@code key}, {@code key[begin:end]} for row blocks, {@code key (transposed)}. */
        public String describe(long rowsOfSource) {
            if (transform == Transform.TRANSPOSE) {
                return sourceKey + " (transposed)";
            }
            if (transform != Transform.ROWS) {
                return sourceKey;
            }
            long rows = rowsOfSource / parts;
            return sourceKey + "[" + (rows * part) + ":" + (rows * (part + 1)) + "]";
        }
    }

    private final TensorSource base;
    private final String description;
    private final Map<String, Entry> entries;

    private RenamedTensorSource(TensorSource base, String description, Map<String, Entry> entries) {
        this.base = base;
        this.description = description;
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** Starts a view over {@code base}; {@code layout} names the layout for error messages. */
    public static Builder over(TensorSource base, String layout) {
        return new Builder(base, base.description() + " (" + layout + ")");
    }

    /** Collects canonical names; a canonical name given twice is an error naming both source keys. */
    public static final class Builder {
        private final TensorSource base;
        private final String description;
        private final Map<String, Entry> entries = new LinkedHashMap<>();

        private Builder(TensorSource base, String description) {
            this.base = base;
            this.description = description;
        }

        /** Presents {@code sourceKey} as {@code canonical}, unchanged. */
        public Builder put(String canonical, String sourceKey) throws IOException {
            return add(canonical, new Entry(sourceKey, Transform.NONE, 0, 1));
        }

        /** Presents {@code sourceKey} as {@code canonical} with trailing size-1 dimensions dropped. */
        public Builder putSqueezed(String canonical, String sourceKey) throws IOException {
            return add(canonical, new Entry(sourceKey, Transform.SQUEEZE, 0, 1));
        }

        /** Presents the 2-D tensor {@code sourceKey} [rows, cols] transposed, as {@code canonical} [cols, rows]. */
        public Builder putTransposed(String canonical, String sourceKey) throws IOException {
            long[] shape = base.shape(sourceKey);
            if (shape.length != 2) {
                throw new IOException(description + ": tensor '" + sourceKey + "' of shape " + Arrays.toString(shape)
                        + " is not a matrix and cannot be transposed");
            }
            return add(canonical, new Entry(sourceKey, Transform.TRANSPOSE, 0, 1));
        }

        /** Presents row block {@code part} of {@code parts} equal blocks of {@code sourceKey} as {@code canonical}. */
        public Builder putRows(String canonical, String sourceKey, int part, int parts) throws IOException {
            long[] shape = base.shape(sourceKey);
            if (shape.length == 0 || shape[0] % parts != 0) {
                throw new IOException(description + ": tensor '" + sourceKey + "' of shape " + Arrays.toString(shape)
                        + " cannot be split into " + parts + " equal row blocks");
            }
            return add(canonical, new Entry(sourceKey, Transform.ROWS, part, parts));
        }

        private Builder add(String canonical, Entry entry) throws IOException {
            if (!base.names().contains(entry.sourceKey())) {
                throw new IOException(description + ": no tensor '" + entry.sourceKey() + "'");
            }
            Entry previous = entries.putIfAbsent(canonical, entry);
            if (previous != null) {
                throw new IOException(description + ": tensors '" + previous.sourceKey() + "' and '"
                        + entry.sourceKey() + "' both map to '" + canonical + "'");
            }
            return this;
        }

        public RenamedTensorSource build() {
            return new RenamedTensorSource(base, description, new LinkedHashMap<>(entries));
        }
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    /** How {@code canonical} is read from the underlying source. */
    public Entry entry(String canonical) throws IOException {
        Entry entry = entries.get(canonical);
        if (entry == null) {
            throw new IOException(description + ": no tensor '" + canonical + "'");
        }
        return entry;
    }

    /** The source key {@code canonical} comes from, as {@code key} or {@code key[begin:end]} for a row block. */
    public String origin(String canonical) throws IOException {
        Entry entry = entry(canonical);
        long[] shape = base.shape(entry.sourceKey());
        return entry.describe(shape.length == 0 ? 0 : shape[0]);
    }

    @Override
    public long[] shape(String name) throws IOException {
        Entry entry = entry(name);
        long[] shape = base.shape(entry.sourceKey());
        return switch (entry.transform()) {
            case NONE -> shape;
            case SQUEEZE -> {
                int rank = shape.length;
                while (rank > 2 && shape[rank - 1] == 1) {
                    rank--;
                }
                yield Arrays.copyOf(shape, rank);
            }
            case ROWS -> {
                long[] part = shape.clone();
                part[0] = shape[0] / entry.parts();
                yield part;
            }
            case TRANSPOSE -> new long[] {shape[1], shape[0]};
        };
    }

    @Override
    public DType dtype(String name) throws IOException {
        return base.dtype(entry(name).sourceKey());
    }

    @Override
    public float[] floats(String name) throws IOException {
        Entry entry = entry(name);
        float[] values = base.floats(entry.sourceKey());
        if (entry.transform() == Transform.TRANSPOSE) {
            long[] shape = base.shape(entry.sourceKey());  // [rows, cols] -> [cols, rows]
            int rows = Math.toIntExact(shape[0]);
            int cols = Math.toIntExact(shape[1]);
            float[] transposed = new float[values.length];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    transposed[c * rows + r] = values[r * cols + c];
                }
            }
            return transposed;
        }
        if (entry.transform() != Transform.ROWS) {
            return values;
        }
        int block = values.length / entry.parts();
        return Arrays.copyOfRange(values, block * entry.part(), block * (entry.part() + 1));
    }

    @Override
    public String description() {
        return description;
    }
}
