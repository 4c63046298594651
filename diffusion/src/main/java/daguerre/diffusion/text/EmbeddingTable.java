package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;

/** A lookup table as torch.nn.Embedding; key {@code weight} [count, dim]. */
final class EmbeddingTable extends Module {

    private final Parameter weight;

    EmbeddingTable(int count, int dim) {
        this.weight = parameter("weight", new Shape(count, dim));
    }

    /** Rows past the table that {@link #forward} reads on this thread ({@link #withExtraRows}); null outside. */
    private final ThreadLocal<NDArray> extraRows = new ThreadLocal<>();

    /**
     * Runs {@code body} with ids from {@code count} on standing for the rows of {@code rows} [n, dim]
     * (textual-inversion vectors, {@link ExtraTokens}), on this thread only.
     */
    <T> T withExtraRows(NDArray rows, java.util.function.Supplier<T> body) {
        NDArray previous = extraRows.get();
        extraRows.set(rows);
        try {
            return body.get();
        } finally {
            if (previous == null) {
                extraRows.remove();
            } else {
                extraRows.set(previous);
            }
        }
    }

    /**
     * int64 indices [...] -> [..., dim], float32; the result lives in the indices' manager. Ids at or
     * past the table's size read the extra rows of {@link #withExtraRows}: id count + k is row k.
     */
    NDArray forward(NDArray indices) {
        NDArray extra = extraRows.get();
        if (extra == null) {
            return lookup(indices);
        }
        long count = weight.shape().get(0);
        NDArray fromTable = lookup(indices.minimum(count - 1));                                // [..., dim]
        NDArray fromExtra = ai.djl.nn.core.Embedding.embedding(indices.sub(count).maximum(0), extra, SparseFormat.DENSE)
                .singletonOrThrow();                                                          // [..., dim]
        NDArray isExtra = indices.gte(count).expandDims(-1).broadcast(fromTable.getShape());  // [..., dim]
        return ai.djl.ndarray.NDArrays.where(isExtra, fromExtra, fromTable);
    }

    private NDArray lookup(NDArray indices) {
        if (weight.dataType() != DataType.FLOAT32) {
            return FusedOps.embedding(weight.value(), indices);   // gathers 16-bit rows, then widens them
        }
        return ai.djl.nn.core.Embedding.embedding(indices, weight.value(), SparseFormat.DENSE).singletonOrThrow();
    }

    NDArray weight() {
        return weight.value();
    }
}
