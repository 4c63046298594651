package daguerre.server.jobs;

import java.util.List;

/**
 * A job as stored: its request and where it stands.
 *
 * @param id the opaque job id
 * @param state the state
 * @param params the validated request
 * @param createdAt when it was accepted, epoch milliseconds
 * @param startedAt when it last started running, or null
 * @param finishedAt when it finished, or null
 * @param step the steps done (in memory only while it runs)
 * @param total the steps of the job
 * @param errorCode why it failed, or null
 * @param errorMessage the failure in words, or null
 * @param imageIds the gallery ids of its images, in batch order
 * @param requeued how many times it was put back in the queue after a shutdown or crash
 */
public record JobRecord(
        String id,
        JobState state,
        GenerationParams params,
        long createdAt,
        Long startedAt,
        Long finishedAt,
        int step,
        int total,
        String errorCode,
        String errorMessage,
        List<String> imageIds,
        int requeued) {

    public JobRecord {
        imageIds = List.copyOf(imageIds);
    }
}
