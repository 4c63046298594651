package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * Everything {@link ClipTextModel#forward} computes, in the input ids' manager.
 *
 * @param lastHiddenState final_layer_norm(hidden_states[-1]) [B, L, D], SD 1.x/2.x's conditioning
 * @param hiddenStates hidden_states[0..layers]: the embeddings, then each layer's output before the final LayerNorm
 * @param poolerOutput lastHiddenState at each sequence's end-of-text token [B, D]
 */
public record ClipTextOutput(NDArray lastHiddenState, List<NDArray> hiddenStates, NDArray poolerOutput) {

    public ClipTextOutput {
        hiddenStates = List.copyOf(hiddenStates);
    }

    /** hidden_states[-n] in Python terms: {@code n = 1} is the last layer's output, 2 the penultimate, ... */
    public NDArray hiddenStateFromEnd(int n) {
        if (n < 1 || n > hiddenStates.size()) {
            throw new IllegalArgumentException("hidden state -" + n + " does not exist: there are " + hiddenStates.size());
        }
        return hiddenStates.get(hiddenStates.size() - n);
    }
}
