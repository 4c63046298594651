package daguerre.diffusion.lora;

import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.InvalidRequestException;

/**
 * A LoRA a request asks for, by name, with A1111's two weights ({@code <lora:name:te:unet>}; one number
 * sets both).
 *
 * @param name the file name without extension in the LoRA folder, or a path to a {@code .safetensors} file
 * @param textEncoderWeight the scale of its text-encoder updates
 * @param unetWeight the scale of its U-Net updates
 */
public record RequestedLora(String name, double textEncoderWeight, double unetWeight) {

    /** A1111 caps nothing; weights beyond this are certainly a typo and would only produce noise. */
    public static final double MAX_WEIGHT = 100;

    public RequestedLora {
        if (name == null || name.isBlank()) {
            throw new InvalidRequestException("loras", "a LoRA needs a name");
        }
        name = name.strip();
        check(name, textEncoderWeight);
        check(name, unetWeight);
    }

    /** The same weight for the text encoder and the U-Net. */
    public static RequestedLora of(String name, double weight) {
        return new RequestedLora(name, weight, weight);
    }

    /** Whether this LoRA changes nothing (both weights 0). */
    public boolean isOff() {
        return textEncoderWeight == 0 && unetWeight == 0;
    }

    /** As A1111 writes it in a prompt: {@code <lora:name:w>}, or {@code <lora:name:te:unet>} when they differ. */
    public String tag() {
        return "<lora:" + name + ":" + Infotext.number(textEncoderWeight)
                + (unetWeight == textEncoderWeight ? "" : ":" + Infotext.number(unetWeight)) + ">";
    }

    private static void check(String name, double weight) {
        if (!Double.isFinite(weight) || Math.abs(weight) > MAX_WEIGHT) {
            throw new InvalidRequestException("loras", "LoRA '" + name + "' weight must be a number between -"
                    + Infotext.number(MAX_WEIGHT) + " and " + Infotext.number(MAX_WEIGHT) + ", got " + weight);
        }
    }
}
