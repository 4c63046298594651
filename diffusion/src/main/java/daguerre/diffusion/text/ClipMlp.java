package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import daguerre.diffusion.nn.Linear;
import daguerre.diffusion.nn.Module;

/** fc1 -> activation -> fc2 (transformers {@code CLIPMLP}). */
final class ClipMlp extends Module {

    private static final float QUICK_GELU_ALPHA = 1.702f;
    private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));

    private final Linear fc1;
    private final Linear fc2;
    private final ClipTextConfig.Activation activation;

    ClipMlp(ClipTextConfig config) {
        this.fc1 = child("fc1", new Linear(config.hiddenSize(), config.intermediateSize(), true));
        this.fc2 = child("fc2", new Linear(config.intermediateSize(), config.hiddenSize(), true));
        this.activation = config.hiddenAct();
    }

    /** [B, L, D] -> [B, L, D] */
    NDArray forward(NDArray x) {
        return fc2.forward(activate(fc1.forward(x)));
    }

    private NDArray activate(NDArray x) {
        switch (activation) {
            case QUICK_GELU:
                // x * sigmoid(1.702 x), Hendrycks & Gimpel 2016, sec. 2
                return x.mul(Activation.sigmoid(x.mul(QUICK_GELU_ALPHA)));
            case GELU:
                // 0.5 x (1 + erf(x / sqrt 2)), the exact GELU
                return x.mul(0.5f).mul(x.mul(INV_SQRT2).erf().add(1f));
            default:
                throw new IllegalStateException("unhandled activation " + activation);
        }
    }
}
