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

    /** int64 indices [...] -> [..., dim], float32; the result lives in the indices' manager. */
    NDArray forward(NDArray indices) {
        if (weight.dataType() != DataType.FLOAT32) {
            return FusedOps.embedding(weight.value(), indices);   // gathers 16-bit rows, then widens them
        }
        return ai.djl.nn.core.Embedding.embedding(indices, weight.value(), SparseFormat.DENSE).singletonOrThrow();
    }

    NDArray weight() {
        return weight.value();
    }
}
