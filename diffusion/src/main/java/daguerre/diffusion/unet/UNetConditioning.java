package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;

/**
 * What conditions one U-Net call besides the latents and timesteps; every field stacks along the
 * batch axis, so that jobs keep sharing calls.
 *
 * @param context text encoder hidden states [B, T, cross_attention_dim] (diffusers'
 *     {@code encoder_hidden_states})
 * @param textEmbeds SDXL's pooled text embedding [B, P] (diffusers' {@code text_embeds}), or null
 *     for SD 1.x/2.x
 * @param timeIds SDXL's micro-conditioning [B, N] (diffusers' {@code time_ids}: original size, crop
 *     top-left, target size, N = 6), or null for SD 1.x/2.x; any numeric type
 */
public record UNetConditioning(NDArray context, NDArray textEmbeds, NDArray timeIds) {

    public UNetConditioning {
        if (context == null) {
            throw new IllegalArgumentException("UNet conditioning: context (encoder hidden states) is required");
        }
        if ((textEmbeds == null) != (timeIds == null)) {
            throw new IllegalArgumentException("UNet conditioning: textEmbeds and timeIds go together (both or neither), got "
                    + (textEmbeds == null ? "timeIds only" : "textEmbeds only"));
        }
    }

    /** SD 1.x/2.x conditioning: the text context only. */
    public static UNetConditioning of(NDArray context) {
        return new UNetConditioning(context, null, null);
    }

    /** Whether the added SDXL inputs (textEmbeds, timeIds) are present. */
    public boolean hasTextTime() {
        return textEmbeds != null;
    }
}
