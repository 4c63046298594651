package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.LayerNorm;
import daguerre.diffusion.nn.Module;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CLIP text tower (transformers {@code CLIPTextTransformer}): embeddings, {@code encoder.layers.{i}}
 * with a causal mask, {@code final_layer_norm}.
 */
final class ClipTextTransformer extends Module {

    private final ClipTextEmbeddings embeddings;

    EmbeddingTable tokenEmbedding() {
        return embeddings.tokenEmbedding();
    }
    private final List<ClipEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm finalLayerNorm;
    /** Additive causal masks [L, L] by sequence length, built once in the weights' manager. */
    private final Map<Long, NDArray> causalMasks = new ConcurrentHashMap<>();

    ClipTextTransformer(ClipTextConfig config) {
        this.embeddings = child("embeddings", new ClipTextEmbeddings(config));
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            layers.add(child("encoder.layers." + i, new ClipEncoderLayer(config)));
        }
        this.finalLayerNorm = child("final_layer_norm", new LayerNorm(config.hiddenSize(), config.layerNormEps()));
    }

    int layerCount() {
        return layers.size();
    }

    /**
     * hidden_states[0..layerCount]: the embeddings, then each layer's output (before the final LayerNorm),
     * in {@code inputIds}' manager. Temporaries of each layer are freed as soon as it is done.
     *
     * @param inputIds [B, L] int64
     * @param layerCount how many encoder layers to run (the rest are skipped)
     */
    List<NDArray> hiddenStates(NDArray inputIds, int layerCount) {
        NDManager manager = inputIds.getManager();
        List<NDArray> states = new ArrayList<>(layerCount + 1);
        NDArray hidden = embeddings.forward(inputIds);  // [B, L, D]
        states.add(hidden);
        NDArray mask = causalMask(inputIds.getShape().get(1));
        for (int i = 0; i < layerCount; i++) {
            try (NDManager scope = manager.newSubManager()) {
                hidden.tempAttach(scope);  // so that this layer's temporaries land in scope
                NDArray next = layers.get(i).forward(hidden, mask);
                next.attach(manager);
                hidden = next;
            }
            states.add(hidden);
        }
        return states;
    }

    /** [B, L, D] -> [B, L, D] */
    NDArray finalLayerNorm(NDArray hidden) {
        return finalLayerNorm.forward(hidden);
    }

    /** Builds the mask for {@code length} now rather than on first use (it lives as long as the weights). */
    void prepareCausalMask(long length) {
        causalMask(length);
    }

    /**
     * 0 on and below the diagonal, -inf above: position i attends to positions 0..i. Built once per
     * length, in the weights' manager, in float32 (the compute type, whatever the weights are stored in).
     */
    private NDArray causalMask(long length) {
        return causalMasks.computeIfAbsent(length, l -> {
            int n = Math.toIntExact(l);
            float[] values = new float[n * n];
            for (int row = 0; row < n; row++) {
                for (int col = row + 1; col < n; col++) {
                    values[row * n + col] = Float.NEGATIVE_INFINITY;
                }
            }
            NDArray weight = embeddings.tokenWeight();
            return weight.getManager().create(values, new Shape(n, n));
        });
    }
}
