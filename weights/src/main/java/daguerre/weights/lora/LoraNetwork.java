package daguerre.weights.lora;

/**
 * The network of a model that a LoRA module patches, with the key prefixes that name it in the two
 * file formats: kohya / A1111 ({@code lora_unet_}, {@code lora_te_}; SDXL {@code lora_te1_},
 * {@code lora_te2_}) and diffusers ({@code unet.}, {@code text_encoder.}, {@code text_encoder_2.}).
 */
public enum LoraNetwork {
    /** The U-Net (diffusers names: {@code down_blocks.1.attentions.0.proj_in.weight}). */
    UNET("unet.", "lora_unet_"),
    /** The (first) CLIP text encoder (transformers names: {@code text_model.encoder.layers.0...}). */
    TEXT_ENCODER("text_encoder.", "lora_te_", "lora_te1_"),
    /** SDXL's second text encoder (OpenCLIP ViT-bigG under transformers names). */
    TEXT_ENCODER_2("text_encoder_2.", "lora_te2_");

    private final String diffusersPrefix;
    private final String[] kohyaPrefixes;

    LoraNetwork(String diffusersPrefix, String... kohyaPrefixes) {
        this.diffusersPrefix = diffusersPrefix;
        this.kohyaPrefixes = kohyaPrefixes;
    }

    /** The prefix of this network's keys in a diffusers-format file ({@code unet.}). */
    public String diffusersPrefix() {
        return diffusersPrefix;
    }

    /** The prefixes of this network's module names in a kohya-format file ({@code lora_unet_}). */
    public String[] kohyaPrefixes() {
        return kohyaPrefixes.clone();
    }

    /** Whether this network takes the text-encoder weight of a request (else the U-Net weight). */
    public boolean isTextEncoder() {
        return this != UNET;
    }
}
