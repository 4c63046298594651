package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.LayerNorm;
import daguerre.diffusion.nn.Module;

/** One pre-LN transformer layer (transformers {@code CLIPEncoderLayer}): x + attn(ln1(x)), then x + mlp(ln2(x)). */
final class ClipEncoderLayer extends Module {

    private final ClipAttention selfAttn;
    private final LayerNorm layerNorm1;
    private final ClipMlp mlp;
    private final LayerNorm layerNorm2;

    ClipEncoderLayer(ClipTextConfig config) {
        this.selfAttn = child("self_attn", new ClipAttention(config));
        this.layerNorm1 = child("layer_norm1", new LayerNorm(config.hiddenSize(), config.layerNormEps()));
        this.mlp = child("mlp", new ClipMlp(config));
        this.layerNorm2 = child("layer_norm2", new LayerNorm(config.hiddenSize(), config.layerNormEps()));
    }

    /** [B, L, D] -> [B, L, D]; {@code mask} additive [L, L]. */
    NDArray forward(NDArray x, NDArray mask) {
        NDArray h = x.add(selfAttn.forward(layerNorm1.forward(x), mask));
        return h.add(mlp.forward(layerNorm2.forward(h)));
    }
}
