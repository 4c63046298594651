package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.unet.UNet2DConditionModel;

/** The denoising network as a function of latents, timestep and text context. */
@FunctionalInterface
public interface ConditionedModel {

    /**
     * @param x model input latents [B, C, h, w]
     * @param timestep the timestep for every row
     * @param context text context [B, T, D]
     * @return raw model output (epsilon or v) [B, C, h, w], in {@code x}'s manager
     */
    NDArray predict(NDArray x, double timestep, NDArray context);

    /** The U-Net, with the timestep as one float32 value broadcast over the batch. */
    static ConditionedModel of(UNet2DConditionModel unet) {
        return (x, timestep, context) ->
                unet.forward(x, x.getManager().create(new float[] {(float) timestep}), context);
    }
}
