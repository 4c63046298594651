package daguerre.diffusion.schedule;

/**
 * Noise schedules as pure functions returning arrays, computed the way diffusers 0.27 computes them
 * (float32 where it uses torch float32, float64 where it uses numpy), so that timesteps match exactly and
 * sigmas to float32 rounding.
 */
public final class Schedules {

    /** Euler / DPM-Solver replace a zero terminal alpha-bar by this, so that sigma_max stays finite (~4096). */
    public static final float TERMINAL_ALPHA_CUMPROD_FOR_SIGMAS = 0x1p-24f;

    private Schedules() {}

    // ---------------------------------------------------------------- training tables

    /** The betas of a config, rescaled to zero terminal SNR when the config asks for it. float32 like torch. */
    public static float[] betas(SchedulerConfig config) {
        int n = config.numTrainTimesteps();
        float[] betas = switch (config.betaSchedule()) {
            case LINEAR -> torchLinspace((float) config.betaStart(), (float) config.betaEnd(), n);
            case SCALED_LINEAR -> {
                float[] roots = torchLinspace((float) Math.sqrt(config.betaStart()), (float) Math.sqrt(config.betaEnd()), n);
                for (int i = 0; i < n; i++) {
                    roots[i] = roots[i] * roots[i];
                }
                yield roots;
            }
            case SQUAREDCOS_CAP_V2 -> cosineBetas(n, 0.999);
        };
        return config.rescaleBetasZeroSnr() ? rescaleZeroTerminalSnr(betas) : betas;
    }

    /** alpha-bar_t = prod_{s <= t} (1 - beta_s); torch's CPU cumprod accumulates in double. */
    public static float[] alphasCumprod(float[] betas) {
        float[] result = new float[betas.length];
        double product = 1.0;
        for (int i = 0; i < betas.length; i++) {
            product *= (1f - betas[i]);
            result[i] = (float) product;
        }
        return result;
    }

    /** The alpha-bar table of a config (DDPM/DDIM/PNDM/LCM use it as is). */
    public static float[] alphasCumprod(SchedulerConfig config) {
        return alphasCumprod(betas(config));
    }

    /**
     * The alpha-bar table the sigma-space samplers (Euler, Euler a, LMS, DPM++) use: with zero terminal SNR
     * the last entry becomes 2^-24 instead of 0 so that sigma_max is finite.
     */
    public static float[] alphasCumprodForSigmas(SchedulerConfig config) {
        float[] table = alphasCumprod(config);
        if (config.rescaleBetasZeroSnr()) {
            table[table.length - 1] = TERMINAL_ALPHA_CUMPROD_FOR_SIGMAS;
        }
        return table;
    }

    /**
     * Rescales betas so that the last alpha-bar is exactly 0 while the first is unchanged
     * (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1), in float32.
     */
    public static float[] rescaleZeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] alphasCumprod = alphasCumprod(betas);
        float[] sqrtBar = new float[n];
        for (int i = 0; i < n; i++) {
            sqrtBar[i] = (float) Math.sqrt(alphasCumprod[i]);
        }
        float first = sqrtBar[0];
        float last = sqrtBar[n - 1];
        float scale = first / (first - last);
        float[] bar = new float[n];
        for (int i = 0; i < n; i++) {
            float shifted = (sqrtBar[i] - last) * scale;
            bar[i] = shifted * shifted;
        }
        float[] rescaled = new float[n];
        rescaled[0] = 1f - bar[0];
        for (int i = 1; i < n; i++) {
            rescaled[i] = 1f - bar[i] / bar[i - 1];
        }
        return rescaled;
    }

    /** sigma_t = sqrt((1 - alpha-bar_t) / alpha-bar_t) for every training timestep, float32. */
    public static float[] sigmas(float[] alphasCumprod) {
        float[] sigmas = new float[alphasCumprod.length];
        for (int i = 0; i < sigmas.length; i++) {
            sigmas[i] = (float) Math.sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        }
        return sigmas;
    }

    // ---------------------------------------------------------------- inference timesteps

    /**
     * {@code steps} timesteps in descending order for a spacing: integers for leading / trailing, the exact
     * (fractional) linspace values for linspace. Integer samplers round the linspace values half-to-even;
     * sigma-space samplers use them as float32.
     */
    public static double[] spacedTimesteps(TimestepSpacing spacing, int trainTimesteps, int steps, int stepsOffset) {
        checkSteps(steps, trainTimesteps);
        double[] result = new double[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] values = linspace(0, trainTimesteps - 1, steps, true);
                for (int i = 0; i < steps; i++) {
                    result[i] = values[steps - 1 - i];
                }
            }
            case LEADING -> {
                int ratio = trainTimesteps / steps;
                for (int i = 0; i < steps; i++) {
                    result[i] = (double) (steps - 1 - i) * ratio + stepsOffset;
                }
            }
            case TRAILING -> {
                double[] values = descendingRange(trainTimesteps, (double) trainTimesteps / steps, steps);
                for (int i = 0; i < steps; i++) {
                    result[i] = Math.rint(values[i]) - 1;
                }
            }
        }
        return result;
    }

    /**
     * DPM-Solver's timesteps: {@code steps + 1} points spaced over the training range with the last (lowest)
     * one dropped, so leading spacing uses {@code train / (steps + 1)} as its stride.
     */
    public static long[] dpmSolverTimesteps(TimestepSpacing spacing, int trainTimesteps, int steps, int stepsOffset) {
        checkSteps(steps, trainTimesteps);
        long[] result = new long[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] values = linspace(0, trainTimesteps - 1, steps + 1, true);
                for (int i = 0; i < steps; i++) {
                    result[i] = (long) Math.rint(values[steps - i]);
                }
            }
            case LEADING -> {
                int ratio = trainTimesteps / (steps + 1);
                for (int i = 0; i < steps; i++) {
                    result[i] = (long) (steps - i) * ratio + stepsOffset;
                }
            }
            case TRAILING -> {
                double[] values = descendingRange(trainTimesteps, (double) trainTimesteps / steps, steps);
                for (int i = 0; i < steps; i++) {
                    result[i] = (long) Math.rint(values[i]) - 1;
                }
            }
        }
        return result;
    }

    /**
     * PLMS (PNDM without Runge-Kutta warm-up) timesteps: the descending integer timesteps with the second
     * one repeated, since its first two model calls both start from the first latents.
     */
    public static double[] plmsTimesteps(double[] descending) {
        if (descending.length < 2) {
            return descending.clone();
        }
        double[] result = new double[descending.length + 1];
        result[0] = descending[0];
        result[1] = descending[1];
        System.arraycopy(descending, 1, result, 2, descending.length - 1);
        return result;
    }

    /**
     * Latent-consistency timesteps (Luo et al. 2023): the distillation grid {@code k - 1, 2k - 1, ...} of
     * {@code originalSteps} points (only the first {@code originalSteps * strength} for image-to-image),
     * descending, sampled at {@code floor(i * len / steps)}.
     */
    public static long[] lcmTimesteps(int trainTimesteps, int originalSteps, int steps, double strength) {
        checkSteps(steps, trainTimesteps);
        if (steps > originalSteps) {
            throw new IllegalArgumentException(
                    "LCM supports at most original_inference_steps = " + originalSteps + " steps, got " + steps);
        }
        int stride = trainTimesteps / originalSteps;
        int gridSize = (int) (originalSteps * strength);
        if (gridSize / steps < 1) {
            throw new IllegalArgumentException("LCM with strength " + strength + " has only " + gridSize
                    + " distillation timesteps, fewer than the " + steps + " steps requested");
        }
        double[] positions = linspace(0, gridSize, steps, false);
        long[] result = new long[steps];
        for (int i = 0; i < steps; i++) {
            int index = (int) Math.floor(positions[i]);
            // descending grid: position 0 is the largest timestep gridSize * stride - 1
            result[i] = (long) (gridSize - index) * stride - 1;
        }
        return result;
    }

    // ---------------------------------------------------------------- sigmas

    /**
     * Linear interpolation of a per-training-timestep table at a (possibly fractional) timestep, as
     * numpy.interp does it in float64.
     */
    public static double interpolate(float[] table, double t) {
        if (t <= 0) {
            return table[0];
        }
        if (t >= table.length - 1) {
            return table[table.length - 1];
        }
        int low = (int) Math.floor(t);
        if (t == low) {
            return table[low];
        }
        double slope = (double) table[low + 1] - (double) table[low];
        return slope * (t - low) + table[low];
    }

    /**
     * Karras et al. 2022 ("Elucidating the Design Space...", eq. (5)) noise levels: rho = 7 interpolation from
     * sigma_max down to sigma_min, {@code steps} values.
     */
    public static double[] karrasSigmas(double sigmaMin, double sigmaMax, int steps) {
        double rho = 7.0;
        double minInvRho = Math.pow(sigmaMin, 1 / rho);
        double maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] ramp = linspace(0, 1, steps, true);
        double[] sigmas = new double[steps];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        }
        return sigmas;
    }

    /**
     * The fractional training timestep whose sigma is {@code sigma}: linear interpolation in log-sigma
     * between the two neighbouring table entries (k-diffusion's sigma_to_t).
     *
     * @param logSigmas log of the per-training-timestep sigmas, increasing
     */
    public static double sigmaToTimestep(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                low = i;
            }
        }
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        double lowValue = logSigmas[low];
        double highValue = logSigmas[high];
        double w = (lowValue - logSigma) / (lowValue - highValue);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * low + w * high;
    }

    // ---------------------------------------------------------------- whole schedules per sampler family

    /** DDPM / DDIM: integer timesteps for the config's spacing; sigmas informational. */
    public static Schedule discrete(SchedulerConfig config, int steps) {
        double[] timesteps = spacedTimesteps(config.timestepSpacing(), config.numTrainTimesteps(), steps,
                config.stepsOffset());
        for (int i = 0; i < steps; i++) {
            timesteps[i] = Math.rint(timesteps[i]);
        }
        return vpSchedule(config, timesteps, steps);
    }

    /** PNDM with PRK steps skipped (PLMS): DDIM's timesteps with the second repeated. */
    public static Schedule plms(SchedulerConfig config, int steps) {
        return vpSchedule(config, plmsTimesteps(discrete(config, steps).timesteps()), steps);
    }

    /** LCM: distillation-grid timesteps ({@code strength} below 1 for image-to-image); ignores the spacing. */
    public static Schedule lcm(SchedulerConfig config, int steps, int originalSteps, double strength) {
        long[] grid = lcmTimesteps(config.numTrainTimesteps(), originalSteps, steps, strength);
        double[] timesteps = new double[steps];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = grid[i];
        }
        return vpSchedule(config, timesteps, steps);
    }

    /**
     * Euler, Euler a and LMS: float32 timesteps for the config's spacing, sigmas interpolated at them plus a
     * final 0; initial noise sigma_max (linspace, trailing) or sqrt(sigma_max^2 + 1) (leading).
     */
    public static Schedule sigmaSpace(SchedulerConfig config, int steps) {
        float[] alphasCumprod = alphasCumprodForSigmas(config);
        float[] trainSigmas = sigmas(alphasCumprod);
        double[] spaced = spacedTimesteps(config.timestepSpacing(), config.numTrainTimesteps(), steps,
                config.stepsOffset());
        double[] timesteps = new double[steps];
        float[] sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = (float) spaced[i];
            sigmas[i] = (float) interpolate(trainSigmas, timesteps[i]);
        }
        float maxSigma = 0;
        for (float sigma : sigmas) {
            maxSigma = Math.max(maxSigma, sigma);
        }
        float initNoiseSigma = config.timestepSpacing() == TimestepSpacing.LEADING
                ? (float) Math.sqrt(maxSigma * maxSigma + 1f)
                : maxSigma;
        return new Schedule(timesteps, sigmas, alphasCumprod, finalAlphaCumprod(config, alphasCumprod),
                initNoiseSigma, steps);
    }

    /**
     * DPM-Solver++ (multistep): integer timesteps, sigmas interpolated at them (or Karras sigmas with the
     * timesteps mapped back from them), final sigma 0; latents stay in VP form (initial noise sigma 1).
     */
    public static Schedule dpmSolver(SchedulerConfig config, int steps, boolean karras) {
        float[] alphasCumprod = alphasCumprodForSigmas(config);
        float[] trainSigmas = sigmas(alphasCumprod);
        double[] timesteps = new double[steps];
        float[] sigmas = new float[steps + 1];
        if (karras) {
            float[] logSigmas = new float[trainSigmas.length];
            for (int i = 0; i < logSigmas.length; i++) {
                logSigmas[i] = (float) Math.log(trainSigmas[i]);
            }
            double[] karrasSigmas = karrasSigmas(trainSigmas[0], trainSigmas[trainSigmas.length - 1], steps);
            for (int i = 0; i < steps; i++) {
                timesteps[i] = Math.rint(sigmaToTimestep(karrasSigmas[i], logSigmas));
                sigmas[i] = (float) karrasSigmas[i];
            }
        } else {
            long[] integer = dpmSolverTimesteps(config.timestepSpacing(), config.numTrainTimesteps(), steps,
                    config.stepsOffset());
            for (int i = 0; i < steps; i++) {
                timesteps[i] = integer[i];
                sigmas[i] = (float) interpolate(trainSigmas, integer[i]);
            }
        }
        return new Schedule(timesteps, sigmas, alphasCumprod, finalAlphaCumprod(config, alphasCumprod), 1f, steps);
    }

    private static Schedule vpSchedule(SchedulerConfig config, double[] timesteps, int steps) {
        float[] alphasCumprod = alphasCumprod(config);
        float[] sigmas = new float[timesteps.length + 1];
        for (int i = 0; i < timesteps.length; i++) {
            float a = alphasCumprod[(int) timesteps[i]];
            sigmas[i] = (float) Math.sqrt((1f - a) / a);
        }
        return new Schedule(timesteps, sigmas, alphasCumprod, finalAlphaCumprod(config, alphasCumprod), 1f, steps);
    }

    private static float finalAlphaCumprod(SchedulerConfig config, float[] alphasCumprod) {
        return config.setAlphaToOne() ? 1f : alphasCumprod[0];
    }

    // ---------------------------------------------------------------- numeric helpers

    /** numpy.linspace in float64: {@code start + i * step}, the end point set exactly when included. */
    static double[] linspace(double start, double stop, int num, boolean endpoint) {
        double[] result = new double[num];
        int div = endpoint ? num - 1 : num;
        if (div == 0) {
            result[0] = start;
            return result;
        }
        double step = (stop - start) / div;
        for (int i = 0; i < num; i++) {
            result[i] = i * step + start;
        }
        if (endpoint && num > 1) {
            result[num - 1] = stop;
        }
        return result;
    }

    /**
     * {@code count} values of numpy.arange(start, 0, -step): numpy fills {@code start + i * delta} with
     * delta = (start - step) - start. Exactly {@code count} values, where numpy's length rounding would
     * sometimes add a spurious last one.
     */
    private static double[] descendingRange(double start, double step, int count) {
        double delta = (start - step) - start;
        double[] result = new double[count];
        for (int i = 0; i < count; i++) {
            result[i] = start + i * delta;
        }
        return result;
    }

    /**
     * torch.linspace for float32 as the reference's CPU kernel rounds it (bit-exact against the golden
     * betas): {@code start + step * i} below the halfway point, {@code end - step * (n - 1 - i)} from it on,
     * each with one rounding (fused multiply-add); values are produced in blocks of 8 whose lanes add
     * {@code lane * step} to the block's first value, two blocks at a time, the remainder one by one.
     */
    private static float[] torchLinspace(float start, float end, int steps) {
        float[] result = new float[steps];
        if (steps == 1) {
            result[0] = start;
            return result;
        }
        float step = (end - start) / (steps - 1);
        int lanes = 8;
        int i = 0;
        for (; i <= steps - 2 * lanes; i += 2 * lanes) {
            for (int block = i; block < i + 2 * lanes; block += lanes) {
                float base = torchLinspaceValue(start, end, step, steps, block);
                for (int lane = 0; lane < lanes; lane++) {
                    result[block + lane] = base + lane * step;
                }
            }
        }
        for (; i < steps; i++) {
            result[i] = torchLinspaceValue(start, end, step, steps, i);
        }
        return result;
    }

    private static float torchLinspaceValue(float start, float end, float step, int steps, int index) {
        return index < steps / 2
                ? Math.fma(step, (float) index, start)
                : Math.fma(-step, (float) (steps - index - 1), end);
    }

    /** Nichol and Dhariwal 2021 ("Improved DDPM", eq. (17)): betas from the cosine alpha-bar, capped. */
    private static float[] cosineBetas(int n, double maxBeta) {
        float[] betas = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n;
            double t2 = (double) (i + 1) / n;
            betas[i] = (float) Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), maxBeta);
        }
        return betas;
    }

    private static double cosineAlphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    private static void checkSteps(int steps, int trainTimesteps) {
        if (steps < 1 || steps > trainTimesteps) {
            throw new IllegalArgumentException(
                    "number of steps must be in [1, " + trainTimesteps + "], got " + steps);
        }
    }
}
