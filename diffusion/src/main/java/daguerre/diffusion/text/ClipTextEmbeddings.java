package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Token plus learned absolute position embeddings (transformers {@code CLIPTextEmbeddings}). */
final class ClipTextEmbeddings extends daguerre.diffusion.nn.Module {

    private final EmbeddingTable tokenEmbedding;
    private final EmbeddingTable positionEmbedding;
    private final int maxPositions;
    // position_ids is a buffer (0..max-1), not a weight: rebuilt here, ignored when a checkpoint carries it

    ClipTextEmbeddings(ClipTextConfig config) {
        this.tokenEmbedding = child("token_embedding", new EmbeddingTable(config.vocabSize(), config.hiddenSize()));
        this.positionEmbedding = child("position_embedding", new EmbeddingTable(config.maxPositionEmbeddings(), config.hiddenSize()));
        this.maxPositions = config.maxPositionEmbeddings();
    }

    /** input ids [B, L] (int64) -> [B, L, D] */
    NDArray forward(NDArray inputIds) {
        long length = inputIds.getShape().get(1);
        if (length > maxPositions) {
            throw new IllegalArgumentException("sequence of " + length + " tokens exceeds max_position_embeddings " + maxPositions);
        }
        NDArray positions = inputIds.getManager().arange(0, (int) length, 1, DataType.INT64);  // [L]
        return tokenEmbedding.forward(inputIds).add(positionEmbedding.forward(positions));       // [B, L, D] + [L, D]
    }

    EmbeddingTable tokenEmbedding() {
        return tokenEmbedding;
    }

    NDArray tokenWeight() {
        return tokenEmbedding.weight();
    }
}
