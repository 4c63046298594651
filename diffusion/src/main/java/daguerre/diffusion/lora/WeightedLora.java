package daguerre.diffusion.lora;

import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraNetwork;

/**
 * A LoRA with the weights a request gives it: A1111's {@code <lora:name:te:unet>} (one number sets both).
 *
 * @param lora the LoRA, read against the model it is applied to
 * @param unetWeight the scale s of its U-Net updates
 * @param textEncoderWeight the scale s of its text-encoder updates (both encoders of SDXL)
 */
public record WeightedLora(LoraFile lora, float unetWeight, float textEncoderWeight) {

    public WeightedLora {
        if (!Float.isFinite(unetWeight) || !Float.isFinite(textEncoderWeight)) {
            throw new IllegalArgumentException("LoRA weights must be finite: " + lora.name() + " " + textEncoderWeight + ":" + unetWeight);
        }
    }

    /** The same weight for the U-Net and the text encoder. */
    public static WeightedLora of(LoraFile lora, float weight) {
        return new WeightedLora(lora, weight, weight);
    }

    /** The weight of {@code network}'s updates. */
    public float weight(LoraNetwork network) {
        return network.isTextEncoder() ? textEncoderWeight : unetWeight;
    }
}
