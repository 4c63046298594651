package daguerre.weights.lora;

import java.util.Arrays;

/**
 * One low-rank update in canonical form, whatever the file's format: the weight it patches and the two
 * factors. The update it stands for is {@code delta W = (alpha / rank) * up @ down}, with
 * {@code down} viewed as [rank, in * kh * kw] (the kernel positions of a k x k conv flattened into its
 * columns) and {@code up} as [out, rank].
 *
 * @param network the network patched
 * @param target the patched parameter's canonical key, e.g.
 *     {@code down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight}
 * @param targetShape that parameter's shape
 * @param sourceKey the module's name in the file (for messages), e.g.
 *     {@code lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q}
 * @param kind linear, 1x1 conv or k x k conv
 * @param rank r
 * @param alpha the file's alpha (rank where the file has none, as diffusers reads its own format)
 * @param down [rank, in] for linear and 1x1 conv, [rank, in, kh, kw] for k x k conv, row-major
 * @param up [out, rank], row-major
 */
public record LoraModule(LoraNetwork network, String target, long[] targetShape, String sourceKey, LoraKind kind,
                         int rank, float alpha, float[] down, float[] up) {

    public LoraModule {
        targetShape = targetShape.clone();
        long out = targetShape[0];
        long inner = 1;
        for (int i = 1; i < targetShape.length; i++) {
            inner *= targetShape[i];
        }
        if (rank < 1 || down.length != rank * inner || up.length != out * rank) {
            throw new IllegalArgumentException(sourceKey + ": factors of " + down.length + " and " + up.length
                    + " values do not fit rank " + rank + " and target " + Arrays.toString(targetShape));
        }
    }

    /** The output size: the target weight's first dimension. */
    public int outFeatures() {
        return Math.toIntExact(targetShape[0]);
    }

    /** The columns of down: in * kh * kw (in for linear and 1x1 conv). */
    public int innerSize() {
        return down.length / rank;
    }

    /** alpha / rank, the factor every update is scaled by before the request's own weight. */
    public float alphaOverRank() {
        return alpha / rank;
    }

    @Override
    public long[] targetShape() {
        return targetShape.clone();
    }

    @Override
    public String toString() {
        return sourceKey + " -> " + network + " " + target + " (" + kind + ", rank " + rank + ", alpha " + alpha + ")";
    }
}
