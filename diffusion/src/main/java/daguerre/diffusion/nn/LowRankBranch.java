package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * A low-rank update run beside a layer instead of merged into its weight (an unmerged LoRA; Hu et
 * al. 2021, eq. (3)): {@code y = layer(x) + s_b * up(down(x))}, {@code s_b} the factor
 * {@code s * alpha / r} of batch row b, 0 for rows that did not ask for the adapter, so that the
 * rows of one batch may carry different adapters. Selected per call: {@link Linear#forward(NDArray, List)},
 * {@link Conv2d#forward(NDArray, List)}; the layer's own weight is never changed.
 *
 * @param down linear: [r, in]; convolution: [r, in, kh, kw], a convolution with the layer's kernel,
 *     stride and padding (LoCon); float32
 * @param up linear: [out, r]; convolution: [out, r, 1, 1], a 1x1 convolution; float32
 * @param rowScales [B], float32: s * alpha / r per batch row
 */
public record LowRankBranch(NDArray down, NDArray up, NDArray rowScales) {

    /**
     * rowScales as [B, 1, ..., 1], to scale {@code output} row by row, in output's manager (DJL would
     * put the view in the scales' manager, which outlives the call).
     */
    NDArray scalesFor(NDArray output) {
        long[] shape = new long[output.getShape().dimension()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = rowScales.getShape().get(0);
        NDArray scales = rowScales.reshape(new Shape(shape));
        scales.attach(output.getManager());
        return scales;
    }
}
