package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Linear;

/**
 * A CLIP text encoder with its {@code text_projection} (transformers {@code CLIPTextModelWithProjection}),
 * SDXL's {@code text_encoder_2} (OpenCLIP ViT-bigG/14): the {@link ClipTextModel} keys plus
 * {@code text_projection.weight} [projection_dim, hidden_size], a linear map without bias.
 *
 * <p>{@code text_embeds = text_projection(pooled)}, pooled being the final-LayerNorm output at each
 * sequence's end token as {@link ClipTextModel#forward} picks it; SDXL's pipelines use it as the pooled
 * text embedding that conditions the U-Net's added time embedding.
 */
public final class ClipTextModelWithProjection extends ClipTextModel {

    private final Linear textProjection;

    public ClipTextModelWithProjection(ClipTextConfig config) {
        super(config);
        this.textProjection = child("text_projection",
                new Linear(config.hiddenSize(), config.projectionDim(), false));
    }

    /** pooled [B, D] -> text_embeds [B, P]. */
    public NDArray project(NDArray pooled) {
        return kernels().run(this, () -> textProjection.forward(pooled));
    }

    /** Runs every layer; the text output and {@code text_embeds} [B, P] of its pooled output. */
    public ClipTextProjectionOutput forwardWithProjection(NDArray inputIds) {
        ClipTextOutput text = forward(inputIds);
        return new ClipTextProjectionOutput(project(text.poolerOutput()), text);
    }
}
