package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

/**
 * Classifier-free guidance (Ho and Salimans 2022) on one U-Net call over the batch doubled,
 * [unconditional; conditional]: {@code out = uncond + scale * (cond - uncond)}.
 *
 * <p>Guidance rescale (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
 * Flawed", eq. 15-16) is applied here because it needs the conditional prediction: the guided output
 * is rescaled to the conditional output's standard deviation and mixed back with weight phi.
 */
public final class ClassifierFreeGuidance {

    private ClassifierFreeGuidance() {}

    /**
     * The guidance arithmetic on a doubled model output: [2B, C, h, w] with the B unconditional
     * rows first -> [B, C, h, w] = uncond + scale * (cond - uncond), then rescaled when phi > 0.
     */
    public static NDArray combine(NDArray doubledOutput, double scale, double rescale) {
        NDList halves = doubledOutput.split(2, 0);
        NDArray uncond = halves.get(0);
        NDArray cond = halves.get(1);
        NDArray guided = uncond.add(cond.sub(uncond).mul(scale));
        return rescale > 0 ? rescaled(guided, cond, rescale) : guided;
    }

    /** Lin et al. eq. 15-16: x_rescaled = x_cfg * std(x_cond) / std(x_cfg); mix with weight phi. */
    static NDArray rescaled(NDArray guided, NDArray cond, double phi) {
        NDArray ratio = std(cond).div(std(guided));
        return guided.mul(ratio).mul(phi).add(guided.mul(1 - phi));
    }

    /** Per-row sample standard deviation (N - 1 in the denominator, as torch.std): [B, ...] -> [B, 1, 1, 1]. */
    private static NDArray std(NDArray x) {
        Shape shape = x.getShape();
        long rows = shape.get(0);
        NDArray flat = x.reshape(rows, -1); // [B, N]
        NDArray centred = flat.sub(flat.mean(new int[] {1}, true));
        long[] keep = new long[shape.dimension()];
        java.util.Arrays.fill(keep, 1);
        keep[0] = rows;
        return centred.square().sum(new int[] {1}, true).div(flat.getShape().get(1) - 1).sqrt().reshape(new Shape(keep));
    }
}
