package daguerre.diffusion.train;

/**
 * Linear warm-up followed by cosine decay (Loshchilov and Hutter 2017, SGDR, without restarts):
 * a pure function of the step.
 *
 * @param peak the learning rate reached at the end of the warm-up
 * @param warmupSteps steps of linear increase from peak / warmupSteps to peak
 * @param totalSteps the step count of the whole run; the cosine reaches its floor there
 * @param floorFraction the final learning rate as a fraction of the peak
 */
public record LearningRateSchedule(double peak, long warmupSteps, long totalSteps, double floorFraction) {

    public LearningRateSchedule {
        if (!(peak > 0) || warmupSteps < 0 || totalSteps <= 0 || floorFraction < 0 || floorFraction > 1) {
            throw new IllegalArgumentException("learning rate schedule needs peak > 0, warm-up >= 0, total > 0 and a floor in"
                    + " [0, 1]: " + peak + ", " + warmupSteps + ", " + totalSteps + ", " + floorFraction);
        }
    }

    /** The learning rate of step {@code step} (from 0). */
    public double at(long step) {
        if (step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
        double cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
        return peak * (floorFraction + (1 - floorFraction) * cosine);
    }
}
