package daguerre.diffusion.sampling;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * Linear multistep on sigmas (k-diffusion's sample_lms, order 4): the ODE derivative d = (x - x0) / sigma
 * of the last steps is integrated over [sigma_i, sigma_i+1] with Lagrange-polynomial coefficients.
 *
 * <p>History: the derivatives of the last (up to four) steps. Order = number of derivatives held, so an
 * image-to-image job starting part-way builds up its order from 1 (diffusers uses the absolute step index).
 */
final class LmsAlgorithm extends SigmaSpaceAlgorithm {

    static final int ORDER = 4;

    @Override
    public StepOutput step(StepInput in) {
        float[] sigmas = in.schedule().sigmas();
        int i = in.index();
        float sigma = sigmas[i];
        NDArray x0 = Predictions.sigmaOriginal(in.plan().config().predictionType(), in.sample(), in.modelOutput(), sigma);
        NDArray derivative = in.sample().sub(x0).div(sigma);

        List<NDArray> derivatives = new ArrayList<>(in.history());
        derivatives.add(derivative);
        while (derivatives.size() > ORDER) {
            derivatives.remove(0);
        }
        int order = derivatives.size();
        NDArray sum = null;
        for (int k = 0; k < order; k++) {
            float coefficient = (float) coefficient(sigmas, i, order, k);
            NDArray term = derivatives.get(order - 1 - k).mul(coefficient);
            sum = sum == null ? term : sum.add(term);
        }
        return new StepOutput(in.sample().add(sum), x0, derivatives, null);
    }

    /**
     * Integral over [sigma_i, sigma_i+1] of the Lagrange basis polynomial that is 1 at sigma_(i-k) and 0 at
     * the other sigma_(i-j), j &lt; order; exact by 3-point Gauss-Legendre (degree &lt;= 3 &lt; 6).
     */
    static double coefficient(float[] sigmas, int i, int order, int k) {
        double a = sigmas[i];
        double b = sigmas[i + 1];
        double[] nodes = {-Math.sqrt(0.6), 0, Math.sqrt(0.6)};
        double[] weights = {5.0 / 9, 8.0 / 9, 5.0 / 9};
        double integral = 0;
        for (int q = 0; q < nodes.length; q++) {
            double tau = (a + b) / 2 + (b - a) / 2 * nodes[q];
            double product = 1;
            for (int j = 0; j < order; j++) {
                if (j != k) {
                    product *= (tau - sigmas[i - j]) / ((double) sigmas[i - k] - sigmas[i - j]);
                }
            }
            integral += weights[q] * product;
        }
        return integral * (b - a) / 2;
    }
}
