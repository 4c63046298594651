package daguerre.diffusion.lora;

import daguerre.weights.lora.LoraModule;

/**
 * The merge rule of a LoRA, as pure functions on row-major float arrays (LoRA: Hu et al. 2021,
 * eq. (3); the scaling by alpha / r is their Section 4.1; LoCon applies the same to convolutions).
 *
 * <pre>
 * W' = W + s * (alpha / r) * delta,   delta = up @ down
 *   linear:        up [out, r] @ down [r, in]                          -> [out, in]
 *   1x1 conv:      the same, with the unit kernel dims dropped        -> [out, in, 1, 1]
 *   k x k conv:    delta[o, i, y, x] = sum_k up[o, k] * down[k, i, y, x]  (down [r, in, kh, kw])
 * </pre>
 *
 * All three are one product once down is viewed as [r, in * kh * kw]: row-major, [out, in * kh * kw]
 * is exactly [out, in, kh, kw]. Biases are not changed. This is diffusers' {@code fuse_lora}
 * (PEFT's {@code merge}) at {@code lora_scale = s}.
 */
public final class LoraMath {

    private LoraMath() {}

    /**
     * delta = up @ down: up [out, rank], down [rank, inner] -> [out, inner], each element summed in
     * double over the rank and rounded once.
     */
    public static float[] product(float[] up, float[] down, int out, int rank, int inner) {
        if (up.length != out * rank || down.length != rank * inner) {
            throw new IllegalArgumentException("up of " + up.length + " and down of " + down.length
                    + " values are not [" + out + ", " + rank + "] and [" + rank + ", " + inner + "]");
        }
        float[] delta = new float[out * inner];
        double[] row = new double[inner];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, 0);
            for (int k = 0; k < rank; k++) {
                double u = up[o * rank + k];
                int base = k * inner;
                for (int i = 0; i < inner; i++) {
                    row[i] += u * down[base + i];
                }
            }
            for (int i = 0; i < inner; i++) {
                delta[o * inner + i] = (float) row[i];
            }
        }
        return delta;
    }

    /** delta of one module: up @ down, shaped as its target weight (row-major). */
    public static float[] delta(LoraModule module) {
        return product(module.up(), module.down(), module.outFeatures(), module.rank(), module.innerSize());
    }

    /** The factor a module's delta is multiplied by at request weight {@code scale}: s * alpha / r, in float32. */
    public static float factor(LoraModule module, float scale) {
        return scale * module.alphaOverRank();
    }

    /** weight += factor * delta, element by element in float32 (weight is changed in place). */
    public static void addScaled(float[] weight, float[] delta, float factor) {
        if (weight.length != delta.length) {
            throw new IllegalArgumentException("a delta of " + delta.length + " values for a weight of " + weight.length);
        }
        for (int i = 0; i < weight.length; i++) {
            weight[i] += factor * delta[i];
        }
    }
}
