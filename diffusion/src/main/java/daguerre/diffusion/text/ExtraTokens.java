package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Textual-inversion vectors (Gal et al. 2022) one text encoder's prompts may use: each embedding's
 * trigger (its name, tokenized) and the learned vectors that stand in for it. A prompt's trigger is
 * replaced, at token level as A1111 does, by ids past the vocabulary ({@code vocabSize + offset},
 * {@link #firstId}), and while a pass runs {@link #during} the token embedding gives those ids these
 * vectors instead of table rows.
 */
public final class ExtraTokens {

    /**
     * One embedding for this encoder.
     *
     * @param name its trigger word (the file name)
     * @param triggerIds the trigger tokenized with the encoder's tokenizer
     * @param vectors [count, dim] row-major, float32
     * @param count how many token positions it takes
     */
    public record Entry(String name, int[] triggerIds, float[] vectors, int count) {
        public Entry {
            if (triggerIds.length == 0 || count < 1 || vectors.length % count != 0) {
                throw new IllegalArgumentException("embedding " + name + ": " + vectors.length + " values do not make "
                        + count + " vectors, or it has no trigger tokens");
            }
            if (count > PromptEncoder.CHUNK_LENGTH) {
                throw new IllegalArgumentException("embedding " + name + " has " + count + " vectors; a prompt chunk holds "
                        + PromptEncoder.CHUNK_LENGTH);
            }
        }
    }

    /** No embeddings: prompts are tokenized as they are. */
    public static final ExtraTokens NONE = new ExtraTokens(List.of(), 0, 0);

    private final List<Entry> entries;
    private final int vocabSize;
    private final int dim;

    /**
     * @param entries the embeddings, longest trigger first where they overlap (ties: list order)
     * @param vocabSize the encoder's token table size (the first extra id)
     * @param dim the encoder's hidden size; every entry's vectors have it
     */
    public ExtraTokens(List<Entry> entries, int vocabSize, int dim) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort((a, b) -> Integer.compare(b.triggerIds.length, a.triggerIds.length));
        for (Entry e : sorted) {
            if (e.vectors.length != e.count * dim) {
                throw new IllegalArgumentException("embedding " + e.name + " has vectors of " + e.vectors.length / e.count
                        + " values; this text encoder's are " + dim);
            }
        }
        this.entries = List.copyOf(sorted);
        this.vocabSize = vocabSize;
        this.dim = dim;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The embedding whose trigger starts at {@code tokens[at]}, or null. */
    Entry match(int[] tokens, int at) {
        for (Entry e : entries) {
            if (at + e.triggerIds.length <= tokens.length) {
                boolean same = true;
                for (int k = 0; k < e.triggerIds.length && same; k++) {
                    same = tokens[at + k] == e.triggerIds[k];
                }
                if (same) {
                    return e;
                }
            }
        }
        return null;
    }

    /** The id of {@code entry}'s first vector: its rows follow the vocabulary, in {@link #entries} order. */
    int firstId(Entry entry) {
        int offset = 0;
        for (Entry e : entries) {
            if (e == entry) {
                return vocabSize + offset;
            }
            offset += e.count;
        }
        throw new IllegalArgumentException("not one of these embeddings: " + entry.name);
    }

    /** Every entry's vectors in id order, [sum of counts, dim], in {@code manager}. */
    NDArray table(NDManager manager) {
        int rows = entries.stream().mapToInt(Entry::count).sum();
        float[] values = new float[rows * dim];
        int at = 0;
        for (Entry e : entries) {
            System.arraycopy(e.vectors, 0, values, at, e.vectors.length);
            at += e.vectors.length;
        }
        return manager.create(values, new Shape(rows, dim));
    }

    /**
     * Runs {@code body} with these vectors in {@code model}'s token embedding (on this thread; other
     * threads' passes see the plain table), the vectors' array in {@code manager}.
     */
    public <T> T during(ClipTextModel model, NDManager manager, Supplier<T> body) {
        if (entries.isEmpty()) {
            return body.get();
        }
        return model.tokenEmbedding().withExtraRows(table(manager), body);
    }
}
