package daguerre.weights.lora;

/** What a LoRA module patches, read from the shape of the weight it targets. */
public enum LoraKind {
    /** A linear layer, weight [out, in]: down [r, in], up [out, r]. */
    LINEAR,
    /** A 1x1 convolution, weight [out, in, 1, 1]: down [r, in] (as [r, in, 1, 1] in files), up [out, r]. */
    CONV1X1,
    /**
     * A k x k convolution with k > 1 (LoCon's 3x3 convs), weight [out, in, kh, kw]: down is a conv of the
     * same kernel, [r, in, kh, kw], up a 1x1 conv [out, r] (as [out, r, 1, 1] in files).
     */
    CONV_KXK
}
