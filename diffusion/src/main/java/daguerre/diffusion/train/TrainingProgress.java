package daguerre.diffusion.train;

/**
 * One step's report.
 *
 * @param stage the stage's name ({@code vae}, {@code diffusion})
 * @param step steps done (1 after the first)
 * @param totalSteps steps of the stage
 * @param loss the step's loss
 * @param learningRate the step's learning rate
 * @param gradientNorm the global gradient norm before clipping
 * @param samplesPerSecond throughput since this process started the stage
 * @param etaSeconds estimated seconds to the end of the stage at that throughput
 */
public record TrainingProgress(String stage, long step, long totalSteps, double loss, double learningRate,
                               double gradientNorm, double samplesPerSecond, double etaSeconds) {}
