package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.weights.TensorSource;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The CLIP text encoder of Stable Diffusion (transformers {@code CLIPTextModel}), with its parameters
 * registered under the transformers keys ({@code text_model.embeddings.token_embedding.weight},
 * {@code text_model.encoder.layers.{i}.self_attn.q_proj.weight}, ..., {@code text_model.final_layer_norm.bias}).
 *
 * <p><b>Clip skip</b> follows AUTOMATIC1111's "Clip skip" setting: {@code clipSkip = 1} gives
 * {@code last_hidden_state}; {@code clipSkip = N > 1} gives {@code final_layer_norm(hidden_states[-N])},
 * i.e. the output of layer {@code layers + 1 - N}, still normalised by the final LayerNorm. diffusers'
 * {@code clip_skip = k} is A1111's {@code N = k + 1}. SD 2.x checkpoints already drop OpenCLIP's last
 * layer (diffusers stores 23 of 24), so their usual setting is {@code clipSkip = 1}.
 *
 * <p>SDXL conditions on raw hidden states instead (no final LayerNorm): see {@link #hiddenStateFromEnd}.
 * {@link ClipTextModelWithProjection} adds the {@code text_projection} of SDXL's second encoder.
 */
public sealed class ClipTextModel extends Module permits ClipTextModelWithProjection {

    /** Checkpoint keys that are buffers, not weights: {@code text_model.embeddings.position_ids}. */
    public static final Predicate<String> IGNORED_KEYS = key -> key.endsWith("position_ids");

    private final ClipTextConfig config;
    private final ClipTextTransformer textModel;

    public ClipTextModel(ClipTextConfig config) {
        this.config = config;
        this.textModel = child("text_model", new ClipTextTransformer(config));
    }

    public ClipTextConfig config() {
        return config;
    }

    /**
     * Loads every weight from {@code source} (keys {@code prefix + "text_model..."}) into {@code manager},
     * strictly: missing, unexpected (other than {@link #IGNORED_KEYS}) and mis-shaped tensors fail by name.
     * Also builds the causal mask for full-length sequences, so that later calls add nothing to {@code manager}.
     */
    public void load(TensorSource source, String prefix, NDManager manager) throws IOException {
        load(source, prefix, manager, WeightPrecision.FLOAT32);
    }

    /** As {@link #load(TensorSource, String, NDManager)}, keeping the weights in {@code precision}. */
    public void load(TensorSource source, String prefix, NDManager manager, WeightPrecision precision) throws IOException {
        WeightLoader.load(this, source, prefix, manager, IGNORED_KEYS, precision);
        textModel.prepareCausalMask(config.maxPositionEmbeddings());
    }

    /** input ids [B, L] int64 -> last_hidden_state [B, L, D]. */
    public NDArray lastHiddenState(NDArray inputIds) {
        return encode(inputIds, 1);
    }

    private volatile Kernels kernels = Kernels.ALL;

    /** The fused kernels this network's passes use (default: all). */
    public Kernels kernels() {
        return kernels;
    }

    /** Uses {@code kernels} in this network's passes from now on. */
    public void useKernels(Kernels kernels) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
    }

    /**
     * The conditioning with A1111's clip skip: final_layer_norm(hidden_states[-clipSkip]) [B, L, D].
     * Layers past the one used are not run.
     *
     * @param clipSkip 1 (last layer) .. number of layers
     */
    public NDArray encode(NDArray inputIds, int clipSkip) {
        int layers = textModel.layerCount();
        if (clipSkip < 1 || clipSkip > layers) {
            throw new IllegalArgumentException("clip skip must be between 1 and " + layers + ", got " + clipSkip);
        }
        return kernels.run(this, () -> {
            List<NDArray> states = textModel.hiddenStates(inputIds, layers + 1 - clipSkip);
            NDArray used = states.get(states.size() - 1);
            for (NDArray state : states) {
                if (state != used) {
                    state.close();
                }
            }
            NDArray out = textModel.finalLayerNorm(used);
            used.close();
            return out;
        });
    }

    /**
     * hidden_states[-n] in Python terms, the raw output of layer {@code layers + 1 - n} (n = layers + 1:
     * the embeddings), WITHOUT the final LayerNorm: what SDXL's pipelines condition on
     * ({@code n = 2}, the penultimate layer, by default). Layers past the one used are not run.
     *
     * @param inputIds [B, L] int64
     * @param n 1 (last layer's output) .. layers + 1 (embeddings)
     * @return [B, L, D]
     */
    public NDArray hiddenStateFromEnd(NDArray inputIds, int n) {
        int layers = textModel.layerCount();
        if (n < 1 || n > layers + 1) {
            throw new IllegalArgumentException("hidden state -" + n + " does not exist: there are " + (layers + 1));
        }
        return kernels.run(this, () -> {
            List<NDArray> states = textModel.hiddenStates(inputIds, layers + 1 - n);
            NDArray used = states.get(states.size() - 1);
            for (NDArray state : states) {
                if (state != used) {
                    state.close();
                }
            }
            return used;
        });
    }

    /** The token embedding table (for textual-inversion vectors, {@link ExtraTokens#during}). */
    EmbeddingTable tokenEmbedding() {
        return textModel.tokenEmbedding();
    }

    /** The number of encoder layers ({@code num_hidden_layers}). */
    public int layerCount() {
        return textModel.layerCount();
    }

    /** Runs every layer and returns all hidden states, the last hidden state and the pooled output. */
    public ClipTextOutput forward(NDArray inputIds) {
        return kernels.run(this, () -> {
            List<NDArray> states = textModel.hiddenStates(inputIds, textModel.layerCount());
            NDArray last = textModel.finalLayerNorm(states.get(states.size() - 1));
            return new ClipTextOutput(last, states, pool(last, inputIds));
        });
    }

    /** final_layer_norm alone, [B, L, D] -> [B, L, D]. */
    public NDArray finalLayerNorm(NDArray hidden) {
        return kernels.run(this, () -> textModel.finalLayerNorm(hidden));
    }

    /**
     * last_hidden_state at each sequence's end token [B, D], as transformers 4.38 picks it: the first
     * {@code eos_token_id} in the row, or, for configs with the legacy {@code eos_token_id == 2}, the
     * position of the largest id.
     */
    private NDArray pool(NDArray lastHidden, NDArray inputIds) {
        long batch = inputIds.getShape().get(0);
        int length = Math.toIntExact(inputIds.getShape().get(1));
        long[] ids = inputIds.toType(DataType.INT64, false).toLongArray();
        NDArray[] rows = new NDArray[Math.toIntExact(batch)];
        for (int b = 0; b < batch; b++) {
            int chosen = 0;
            for (int i = 0; i < length; i++) {
                long id = ids[b * length + i];
                if (config.eosTokenId() == 2) {
                    // the largest id is the end token's; textual-inversion ids past the vocabulary are not
                    if (id < config.vocabSize() && id > ids[b * length + chosen]) {
                        chosen = i;
                    }
                } else if (id == config.eosTokenId()) {
                    chosen = i;
                    break;
                }
            }
            rows[b] = lastHidden.get(new NDIndex("{}, {}", b, chosen));  // [D]
        }
        return NDArrays.stack(new NDList(rows));
    }
}
