/**
 * Generation jobs: the {@link daguerre.server.jobs.ImageEngine} boundary to the diffusion
 * pipeline, request validation ({@link daguerre.server.jobs.GenerationRequests}), the bounded
 * {@link daguerre.server.jobs.JobQueue} with positions and ETAs, its SQLite persistence
 * ({@link daguerre.server.jobs.Database}, {@link daguerre.server.jobs.JobStore}) and the
 * {@link daguerre.server.jobs.Worker} thread that runs jobs off the HTTP event loops.
 */
package daguerre.server.jobs;
