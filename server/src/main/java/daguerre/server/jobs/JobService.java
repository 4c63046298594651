package daguerre.server.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The job queue as the HTTP routes (native, A1111, OpenAI, event streams) use it, whoever runs the
 * jobs: the one process's {@link JobQueue} over SQLite, or a cluster api node's view of the queue
 * every node shares in PostgreSQL. Methods that read may be called from an HTTP worker thread,
 * never from the event loop unless they say so.
 */
public interface JobService {

    /**
     * Accepts a job whose images go to the gallery.
     *
     * @throws RequestException 429 when the queue is full, 507 when short of space, 503 when shutting down or unavailable
     */
    JobHandle submit(GenerationParams params);

    /**
     * Accepts several jobs at once, all or none.
     *
     * @param saveToGallery whether their images go to the gallery; when false {@link JobHandle#unsavedResult()}
     *                      holds them, for the caller alone, once {@link #completion} completed
     */
    List<? extends JobHandle> submitAll(List<GenerationParams> params, boolean saveToGallery);

    /** The job, if any. */
    Optional<JobRecord> find(String id);

    /** The jobs of these ids that exist, by id (a batch's page of lines); the default asks {@link #find} for each. */
    default java.util.Map<String, JobRecord> findAll(Collection<String> ids) {
        java.util.Map<String, JobRecord> found = new java.util.LinkedHashMap<>();
        for (String id : ids) {
            find(id).ifPresent(job -> found.put(id, job));
        }
        return found;
    }

    /** The running jobs, then the queued ones in order. */
    List<JobRecord> active();

    /** The most recently finished jobs, newest first. */
    List<JobRecord> recentFinished(int limit);

    /**
     * The distinct prompt and negative prompt pairs of the newest {@link JobStore#PROMPT_HISTORY_JOBS}
     * jobs, most recently submitted first.
     *
     * @param contains only prompts containing this text, ignoring ASCII case; null or empty for all
     */
    List<JobStore.PromptUse> recentPrompts(String contains, int limit);

    /** The running jobs, each as far as this node follows it (step, preview). */
    List<? extends JobHandle> runningJobs();

    /** 1-based place in the queue of a queued job, 0 for a running job, -1 for any other. */
    int position(String id);

    /** Estimated milliseconds until the job finishes, or null when nothing was measured yet or it is over. */
    Long etaMs(String id);

    /** Number of queued jobs. */
    int depth();

    /**
     * Cancels a job: a queued one at once (returns {@link JobState#CANCELLED}), a running one within
     * the layer it is in (returns {@link JobState#RUNNING}).
     *
     * @throws RequestException 404 for an unknown id, 409 when the job is already finished
     */
    JobState cancel(String id);

    /**
     * Cancels several jobs at once (a batch's): the queued ones at once, the running ones within the layer
     * they are in; finished and unknown ids are left alone.
     *
     * @return how many of them were running (they end as cancelled shortly)
     */
    int cancelAll(Collection<String> ids);

    /**
     * Estimated milliseconds until all of these jobs have finished (a batch's time left), or null when
     * nothing was measured yet or none of them is active.
     */
    Long etaMs(Collection<String> ids);

    /** Notes that a client watches the job through the native API, so that {@link #abandon} leaves it alone. */
    void watch(String id);

    /**
     * Cancels a job whose synchronous client (A1111, OpenAI) went away, unless a client watches it
     * ({@link #watch}); returns whether it cancelled.
     */
    boolean abandon(String id);

    /** Asks a running job to finish early with its images as they stand; returns whether it was running. */
    boolean finishEarly(String id);

    /** Completes when the job is finished, with its final record. */
    CompletableFuture<JobRecord> completion(String id);

    /**
     * Fields this deployment adds to a job's native view and to an event stream's first event (a
     * cluster: {@code worker}, the node that runs or ran it, and {@code waiting_for} while no live
     * worker serves its model); none by default.
     */
    default ObjectNode details(JobRecord job) {
        return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    }
}
