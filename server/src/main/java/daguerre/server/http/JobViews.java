package daguerre.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.JobService;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;

/** Jobs as the native API shows them. */
final class JobViews {

    private static final ObjectMapper JSON = new ObjectMapper();

    private JobViews() {}

    static ObjectNode links(String id) {
        String self = "/api/v1/jobs/" + id;
        return JSON.createObjectNode().put("self", self).put("events", self + "/events").put("cancel", self + "/cancel");
    }

    /**
     * {id, status, position, eta_ms, progress, created_at, started_at, finished_at, request, images, error, requeued,
     * links}, and the fields the queue adds ({@link JobService#details}: a cluster's {@code worker}, {@code waiting_for}).
     */
    static ObjectNode job(JobRecord job, JobService queue) {
        ObjectNode json = JSON.createObjectNode().put("id", job.id()).put("status", job.state().wireName());
        int position = queue.position(job.id());
        if (position >= 0) {
            json.put("position", position);
        } else {
            json.putNull("position");
        }
        Long eta = queue.etaMs(job.id());
        if (eta != null) {
            json.put("eta_ms", eta);
        } else {
            json.putNull("eta_ms");
        }
        json.putObject("progress").put("step", job.state() == JobState.SUCCEEDED ? job.total() : job.step())
                .put("total", job.total());
        json.put("created_at", Http.time(job.createdAt()));
        json.put("started_at", Http.time(job.startedAt()));
        json.put("finished_at", Http.time(job.finishedAt()));
        ObjectNode request = GenerationRequests.toJson(job.params());
        request.put("init_image", job.params().initImage() != null);
        request.put("mask", job.params().inpaint() != null);
        json.set("request", request);
        json.set("images", JSON.valueToTree(job.imageIds()));
        if (job.errorCode() != null) {
            json.putObject("error").put("code", job.errorCode()).put("message", job.errorMessage());
        } else {
            json.putNull("error");
        }
        json.put("requeued", job.requeued());
        json.setAll(queue.details(job));
        json.set("links", links(job.id()));
        return json;
    }
}
