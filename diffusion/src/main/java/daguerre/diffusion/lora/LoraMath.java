package daguerre.diffusion.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.weights.lora.LoraModule;

/**
 * The merge rule of a LoRA, as pure functions on float32 arrays (LoRA: Hu et al. 2021, eq. (3); the
 * scaling by alpha / r is their Section 4.1; LoCon applies the same to convolutions).
 *
 * <pre>
 * W' = W + s * (alpha / r) * delta,   delta = up @ down
 *   linear:        up [out, r] @ down [r, in]                              -> [out, in]
 *   1x1 conv:      the same, with the unit kernel dims dropped            -> [out, in, 1, 1]
 *   k x k conv:    delta[o, i, y, x] = sum_k up[o, k] * down[k, i, y, x]   (down [r, in, kh, kw])
 * </pre>
 *
 * All three are one matrix product once down is viewed as [r, in * kh * kw]: row-major,
 * [out, in * kh * kw] is exactly [out, in, kh, kw]. Biases are not changed. This is diffusers'
 * {@code fuse_lora} (PEFT's {@code merge}) at {@code lora_scale = s}.
 */
public final class LoraMath {

    private LoraMath() {}

    /** The factor a module's delta is multiplied by at request weight {@code scale}: s * alpha / r, in float32. */
    public static float factor(LoraModule module, float scale) {
        return scale * module.alphaOverRank();
    }

    /** up [out, r] of {@code module} as an array of {@code manager}. */
    public static NDArray up(LoraModule module, NDManager manager) {
        return manager.create(module.up(), new Shape(module.outFeatures(), module.rank()));
    }

    /** down [r, in * kh * kw] of {@code module} (kernel positions flattened into the columns) as an array of {@code manager}. */
    public static NDArray down(LoraModule module, NDManager manager) {
        return manager.create(module.down(), new Shape(module.rank(), module.innerSize()));
    }

    /** delta = up @ down: [out, r] x [r, inner] -> [out, inner], float32 (a 2-d dot is a matrix product). */
    public static NDArray delta(NDArray up, NDArray down) {
        return up.dot(down);
    }

    /**
     * W + factor * delta, element by element in float32, as a new array in delta's manager (never in
     * the weight's); delta [out, inner] is read as weight's shape (row-major, the same elements).
     */
    public static NDArray add(NDArray weight, NDArray delta, float factor) {
        // factor * delta + W is W + factor * delta bit for bit (IEEE addition commutes)
        return delta.mul(factor).reshape(weight.getShape()).addi(weight);
    }
}
