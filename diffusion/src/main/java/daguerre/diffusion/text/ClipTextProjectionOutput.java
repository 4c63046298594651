package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;

/**
 * What {@link ClipTextModelWithProjection#forwardWithProjection} computes (transformers'
 * {@code CLIPTextModelOutput}), in the input ids' manager.
 *
 * @param textEmbeds text_projection(pooled) [B, P], SDXL's pooled prompt embedding
 * @param text last hidden state, all hidden states and the pooled vector before projection [B, D]
 */
public record ClipTextProjectionOutput(NDArray textEmbeds, ClipTextOutput text) {}
