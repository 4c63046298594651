package daguerre.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.batch.BatchStore;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.sql.SQLException;
import java.util.List;

/** The native API's job routes: generations, jobs, models, samplers, batches. */
final class NativeApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int RECENT_JOBS = 50;
    /** The most lines in one page of a batch, and the page size when none is asked for (the default --max-batch-lines). */
    private static final int MAX_BATCH_PAGE = 1000;

    private final Services services;

    NativeApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.post("/api/v1/generations").blockingHandler(this::generate, false);
        router.get("/api/v1/jobs").blockingHandler(this::listJobs, false);
        router.get("/api/v1/jobs/:id").blockingHandler(this::getJob, false);
        router.post("/api/v1/jobs/:id/cancel").blockingHandler(this::cancel, false);
        router.get("/api/v1/models").handler(this::models);
        router.get("/api/v1/samplers").handler(this::samplers);
        router.get("/api/v1/upscalers").handler(NativeApi::upscalers);
        router.get("/api/v1/loras").blockingHandler(this::loras, false);
        router.post("/api/v1/batches").blockingHandler(this::createBatch, false);
        router.get("/api/v1/batches/:id").blockingHandler(this::getBatch, false);
    }

    private void generate(RoutingContext ctx) {
        GenerationParams params = services.requests().parse(Http.body(ctx), true);
        JobHandle job = services.queue().submit(params);
        ctx.put(ServiceLog.JOB_ID, job.id());
        ObjectNode body = JSON.createObjectNode().put("id", job.id()).put("status", job.state().wireName())
                .put("position", services.queue().position(job.id()));
        body.set("warnings", JSON.valueToTree(services.requests().warnings(params)));
        body.set("links", JobViews.links(job.id()));
        ctx.response().putHeader("Location", "/api/v1/jobs/" + job.id());
        Http.send(ctx, 202, body);
    }

    private void listJobs(RoutingContext ctx) {
        ArrayNode active = JSON.createArrayNode();
        for (JobRecord job : services.queue().active()) {
            active.add(JobViews.job(job, services.queue()));
        }
        ArrayNode recent = JSON.createArrayNode();
        for (JobRecord job : services.queue().recentFinished(RECENT_JOBS)) {
            recent.add(JobViews.job(job, services.queue()));
        }
        ObjectNode body = JSON.createObjectNode().put("queue_depth", services.queue().depth());
        body.set("items", active);
        body.set("recent", recent);
        Http.send(ctx, 200, body);
    }

    private void getJob(RoutingContext ctx) {
        JobRecord job = findJob(ctx.pathParam("id"));
        services.queue().watch(job.id());
        Http.send(ctx, 200, JobViews.job(job, services.queue()));
    }

    private void cancel(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("job " + id);
        }
        JobState state = services.queue().cancel(id);
        ObjectNode body = JobViews.job(findJob(id), services.queue());
        body.put("cancel", state == JobState.RUNNING ? "requested" : "done");
        Http.send(ctx, state == JobState.RUNNING ? 202 : 200, body);
    }

    private JobRecord findJob(String id) {
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("job " + id);
        }
        return services.queue().find(id).orElseThrow(() -> RequestException.notFound("job " + id));
    }

    private void models(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (ModelDescriptor model : services.engine().models()) {
            ObjectNode item = items.addObject();
            item.put("id", model.id()).put("name", model.name()).put("hash", model.hash()).put("family", model.family())
                    .put("default_width", model.defaultWidth()).put("default_height", model.defaultHeight())
                    .put("max_pixels", services.requests().limits().maxPixels(model))
                    .put("description", model.description()).put("default", model.id().equals(services.engine().defaultModelId()))
                    .put("served", services.engine().serves(model.id()));
            model.modelCard().ifPresent(card -> {
                ObjectNode prompts = item.putObject("prompts").put("grammar", card.captionGrammar()).put("draws_well", card.drawsWell());
                prompts.set("examples", JSON.valueToTree(card.examplePrompts()));
            });
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    /** {@code GET /api/v1/loras}: the LoRA folder's files, by the names prompts and {@code loras} use. */
    private void loras(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (LoraDescriptor lora : services.engine().loras()) {
            items.addObject().put("name", lora.name()).put("path", lora.path()).put("bytes", lora.bytes())
                    .set("metadata", JSON.valueToTree(lora.metadata()));
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    private void samplers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (SamplerDescriptor sampler : services.engine().samplers()) {
            items.addObject().put("name", sampler.name()).put("a1111_name", sampler.a1111Name());
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    /** The hires fix's upscalers: {@code {items: [{name, space: "latent" | "pixel"}]}}. */
    private static void upscalers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (String name : daguerre.diffusion.pipeline.Upscalers.names()) {
            boolean latent = daguerre.diffusion.pipeline.Upscalers.find(name).orElseThrow() instanceof daguerre.diffusion.pipeline.Upscaler.Latent;
            items.addObject().put("name", name).put("space", latent ? "latent" : "pixel");
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    private void createBatch(RoutingContext ctx) {
        BatchStore.StoredBatch batch = services.batchService().submit(Http.bodyText(ctx));
        ctx.response().putHeader("Location", "/api/v1/batches/" + batch.id());
        Http.send(ctx, 202, batchPage(batch.id(), 0, MAX_BATCH_PAGE));
    }

    /** {@code GET /api/v1/batches/{id}?cursor=&limit=}: the batch's counts and one page of its lines. */
    private void getBatch(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("batch " + id);
        }
        int afterLine = queryInteger(ctx, "cursor", 0, Integer.MAX_VALUE, 0);
        int limit = queryInteger(ctx, "limit", 1, MAX_BATCH_PAGE, MAX_BATCH_PAGE);
        Http.send(ctx, 200, batchPage(id, afterLine, limit));
    }

    private static int queryInteger(RoutingContext ctx, String name, int min, int max, int fallback) {
        String value = ctx.queryParams().get(name);
        if (value == null || value.isEmpty()) {
            return fallback;
        }
        long number = value.matches("\\d{1,10}") ? Long.parseLong(value) : -1;
        if (number < min || number > max) {
            throw RequestException.invalid(name, name + " must be an integer between " + min + " and " + max + ", got "
                    + (value.length() > 20 ? value.substring(0, 20) + "..." : value));
        }
        return (int) number;
    }

    /** The batch's summary over all its lines, and up to {@code limit} lines after line {@code afterLine}. */
    private ObjectNode batchPage(String id, int afterLine, int limit) {
        try {
            // one line more than asked tells whether another page follows
            BatchStore.StoredBatch batch = services.batches().findPage(id, afterLine, limit + 1)
                    .orElseThrow(() -> RequestException.notFound("batch " + id));
            boolean more = batch.lines().size() > limit;
            List<BatchStore.StoredLine> lines = more ? batch.lines().subList(0, limit) : batch.lines();
            return batchView(batch, lines, services.batches().summary(id), more ? lines.get(lines.size() - 1).line() : null);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read batch " + id + ": " + e.getMessage(), e);
        }
    }

    private ObjectNode batchView(BatchStore.StoredBatch batch, List<BatchStore.StoredLine> page, BatchStore.Summary summary,
            Integer nextCursor) {
        ObjectNode body = JSON.createObjectNode().put("id", batch.id()).put("created_at", Http.time(batch.createdAt()));
        ObjectNode counts = JSON.createObjectNode().put("invalid", summary.counts().getOrDefault("invalid", 0));
        for (JobState state : JobState.values()) {
            counts.put(state.wireName(), summary.counts().getOrDefault(state.wireName(), 0));
        }
        ArrayNode lines = body.putArray("lines");
        for (BatchStore.StoredLine line : page) {
            ObjectNode item = lines.addObject().put("line", line.line());
            if (line.jobId() == null) {
                item.put("status", "invalid");
                item.putObject("error").put("code", line.errorCode()).put("message", line.errorMessage()).put("field", line.errorField());
                continue;
            }
            JobRecord job = services.queue().find(line.jobId()).orElseThrow();
            item.put("status", job.state().wireName()).put("job_id", job.id());
            item.set("images", JSON.valueToTree(job.imageIds()));
            if (job.errorCode() != null) {
                item.putObject("error").put("code", job.errorCode()).put("message", job.errorMessage());
            }
        }
        body.put("total", summary.total());
        body.set("counts", counts);
        if (nextCursor == null) {
            body.putNull("next_cursor");
        } else {
            body.put("next_cursor", Integer.toString(nextCursor));
        }
        ObjectNode links = body.putObject("links").put("self", "/api/v1/batches/" + batch.id());
        if (nextCursor != null) {
            links.put("next", "/api/v1/batches/" + batch.id() + "?cursor=" + nextCursor);
        }
        return body;
    }
}
