package daguerre.server.jobs;

/**
 * Bounds on what one request may ask for.
 *
 * @param maxWidth the largest image width in pixels
 * @param maxHeight the largest image height in pixels
 * @param maxSteps the most denoising steps
 * @param maxBatch the most images in one job
 * @param queueSize the most jobs waiting in the queue (the running ones not counted)
 */
public record Limits(int maxWidth, int maxHeight, int maxSteps, int maxBatch, int queueSize) {}
