package daguerre.diffusion.nn;

/**
 * The sinusoidal timestep embedding of DDPM (Ho et al. 2020, after Vaswani et al. 2017), as
 * diffusers' {@code get_timestep_embedding} with scale 1 and max period 10000, evaluated in float32
 * step by step as the reference does:
 * freq_i = exp(-ln(10000) * i / (half - shift)), i = 0..half-1; arg = t * freq_i;
 * embedding = [sin(arg), cos(arg)] ([cos, sin] when flipped), zero-padded to an odd {@code dim}.
 */
public final class SinusoidalEmbedding {

    private static final float LOG_MAX_PERIOD = (float) Math.log(10000.0);

    private SinusoidalEmbedding() {}

    /**
     * Embeds each timestep (fractional values allowed).
     *
     * @param timesteps N timesteps
     * @param dim embedding width
     * @param flipSinToCos cosines first (SD's U-Net: true)
     * @param downscaleFreqShift the frequency denominator is half - shift (SD's U-Net: 0)
     * @return row-major [N, dim]
     */
    public static float[] embed(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        int half = dim / 2;
        float[] frequencies = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (-LOG_MAX_PERIOD * i) / (half - downscaleFreqShift);
            frequencies[i] = (float) Math.exp(exponent);
        }
        float[] out = new float[timesteps.length * dim];
        for (int n = 0; n < timesteps.length; n++) {
            int row = n * dim;
            int sinAt = flipSinToCos ? row + half : row;
            int cosAt = flipSinToCos ? row : row + half;
            for (int i = 0; i < half; i++) {
                float arg = timesteps[n] * frequencies[i];
                out[sinAt + i] = (float) Math.sin(arg);
                out[cosAt + i] = (float) Math.cos(arg);
            }
        }
        return out;
    }
}
