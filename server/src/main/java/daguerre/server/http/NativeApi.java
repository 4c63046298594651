package daguerre.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.batch.BatchStore;
import daguerre.server.batch.PromptFileParser;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobStore;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.sql.SQLException;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** The native API's job routes: generations, jobs, models, samplers, batches. */
final class NativeApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int RECENT_JOBS = 50;
    /** The most lines in one page of a batch, and the page size when none is asked for (the default --max-batch-lines). */
    private static final int MAX_BATCH_PAGE = 1000;
    /** Batches in one page of the list, when none is asked for, and at most. */
    private static final int DEFAULT_BATCH_LIST = 50;
    private static final int MAX_BATCH_LIST = 200;
    private static final int MAX_BATCH_NAME = 200;

    private static final int DEFAULT_PROMPTS = 50;
    private static final int MAX_PROMPTS = 500;
    private static final int MAX_PROMPT_QUERY = 1000;

    private final Services services;

    NativeApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.post("/api/v1/generations").blockingHandler(this::generate, false);
        router.get("/api/v1/jobs").blockingHandler(this::listJobs, false);
        router.get("/api/v1/jobs/:id").blockingHandler(this::getJob, false);
        router.post("/api/v1/jobs/:id/cancel").blockingHandler(this::cancel, false);
        router.post("/api/v1/jobs/:id/rerun").blockingHandler(this::rerun, false);
        router.get("/api/v1/prompts").blockingHandler(this::prompts, false);
        router.get("/api/v1/models").handler(this::models);
        router.get("/api/v1/samplers").handler(this::samplers);
        router.get("/api/v1/upscalers").handler(NativeApi::upscalers);
        router.get("/api/v1/loras").blockingHandler(this::loras, false);
        router.post("/api/v1/batches").blockingHandler(this::createBatch, false);
        router.get("/api/v1/batches").blockingHandler(this::listBatches, false);
        router.get("/api/v1/batches/:id").blockingHandler(this::getBatch, false);
        router.delete("/api/v1/batches/:id").blockingHandler(this::cancelBatch, false);
    }

    private void generate(RoutingContext ctx) {
        JsonNode request = Http.body(ctx);
        if (request instanceof ObjectNode object && object.has("styles")) {
            // the styles' text goes into the prompts, so that the job, its infotext and its stored request hold what ran
            StylesApi.applyStyles(object, object.remove("styles"), services.styles(), "styles");
        }
        accept(ctx, services.requests().parse(request, true));
    }

    /** Queues a validated request: {@code 202 {id, status, position, seed, warnings, links}}. */
    private void accept(RoutingContext ctx, GenerationParams params) {
        JobHandle job = services.queue().submit(params);
        ctx.put(ServiceLog.JOB_ID, job.id());
        ObjectNode body = JSON.createObjectNode().put("id", job.id()).put("status", job.state().wireName())
                .put("position", services.queue().position(job.id())).put("seed", params.seed());
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

    /**
     * {@code POST /api/v1/jobs/{id}/rerun}, body {@code {"seed": N}} or none: queues a new job with the stored
     * request of job {@code id} (init image and mask included), with its seed unless the body names one (-1: random).
     * The request is validated again, against today's models and limits.
     */
    private void rerun(RoutingContext ctx) {
        JobRecord job = findJob(ctx.pathParam("id"));
        ObjectNode request = GenerationRequests.toStoredJson(job.params());
        if (job.params().initImage() != null) {
            request.put("init_image", Base64.getEncoder().encodeToString(job.params().initImage()));
        }
        JsonNode seed = rerunOptions(ctx).get("seed");
        if (seed != null) {
            request.set("seed", seed); // checked with the rest of the request
        }
        accept(ctx, services.requests().parse(request, true));
    }

    /** A re-run's body: none, or an object with at most {@code seed}. */
    private static JsonNode rerunOptions(RoutingContext ctx) {
        String text = Http.bodyText(ctx);
        if (text == null || text.isBlank()) {
            return JSON.createObjectNode();
        }
        JsonNode options = Http.body(ctx);
        if (!options.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object, such as {\"seed\": -1}");
        }
        for (Iterator<String> names = options.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("seed")) {
                throw new RequestException(400, "unknown_field", "unknown field " + name + " (a re-run takes only seed)", name);
            }
        }
        return options;
    }

    /** {@code GET /api/v1/prompts?q=&limit=}: the distinct prompts of the newest jobs, most recent first. */
    private void prompts(RoutingContext ctx) {
        String contains = ctx.queryParams().get("q");
        if (contains != null && contains.length() > MAX_PROMPT_QUERY) {
            throw RequestException.invalid("q", "q must be at most " + MAX_PROMPT_QUERY + " characters, got " + contains.length());
        }
        int limit = queryInteger(ctx, "limit", 1, MAX_PROMPTS, DEFAULT_PROMPTS);
        ArrayNode items = JSON.createArrayNode();
        for (JobStore.PromptUse use : services.queue().recentPrompts(contains, limit)) {
            items.addObject().put("prompt", use.prompt()).put("negative_prompt", use.negativePrompt())
                    .put("last_used_at", Http.time(use.lastUsedAt()));
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
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

    /**
     * {@code POST /api/v1/batches?name=}: a prompt file as the body (one job per line), or a JSON array of
     * native requests (one job per element).
     */
    private void createBatch(RoutingContext ctx) {
        String name = ctx.queryParams().get("name");
        if (name != null && (name.isBlank() || name.length() > MAX_BATCH_NAME)) {
            throw RequestException.invalid("name", "name must be 1 to " + MAX_BATCH_NAME + " characters");
        }
        String text = Http.bodyText(ctx);
        JsonNode requests = requestList(text, ctx.request().getHeader("Content-Type"));
        BatchStore.StoredBatch batch = requests != null ? services.batchService().submitRequests(requests, name)
                : services.batchService().submit(text, name);
        ctx.response().putHeader("Location", "/api/v1/batches/" + batch.id());
        Http.send(ctx, 202, batchPage(batch.id(), 0, MAX_BATCH_PAGE));
    }

    /**
     * The body as a JSON array of requests, or null when it is a prompt file: a body that is a JSON array is a
     * list of requests; any other body, also a JSON object, is read line by line as a prompt file. A body that
     * starts as an array but is not valid JSON is a 400 when it is declared JSON, else a prompt file.
     */
    private static JsonNode requestList(String text, String contentType) {
        if (text == null || !text.strip().startsWith("[")) {
            return null;
        }
        try {
            JsonNode body = Http.JSON.readTree(text);
            return body.isArray() ? body : null;
        } catch (JsonProcessingException e) {
            String type = contentType == null ? "" : contentType.split(";")[0].strip().toLowerCase(java.util.Locale.ROOT);
            if (type.equals("application/json") || type.endsWith("+json")) {
                throw new RequestException(400, "invalid_json", "the list of requests is not valid JSON: "
                        + PromptFileParser.jsonProblem(e), null);
            }
            return null;
        }
    }

    /** {@code GET /api/v1/batches?cursor=&limit=}: batches newest first, each with its counts and state (no lines). */
    private void listBatches(RoutingContext ctx) {
        String cursor = ctx.queryParams().get("cursor");
        Long before = null;
        if (cursor != null && !cursor.isEmpty()) {
            if (!cursor.matches("\\d{1,18}")) {
                throw RequestException.invalid("cursor", "cursor must be a next_cursor this route returned");
            }
            before = Long.parseLong(cursor);
        }
        int limit = queryInteger(ctx, "limit", 1, MAX_BATCH_LIST, DEFAULT_BATCH_LIST);
        List<BatchStore.Listed> page;
        try {
            page = services.batches().list(before, limit + 1);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot list batches: " + e.getMessage(), e);
        }
        boolean more = page.size() > limit;
        ArrayNode items = JSON.createArrayNode();
        for (BatchStore.Listed listed : more ? page.subList(0, limit) : page) {
            items.add(batchHeader(listed.batch(), listed.summary()));
        }
        ObjectNode body = JSON.createObjectNode();
        body.set("items", items);
        body.put("next_cursor", more ? Long.toString(page.get(limit - 1).cursor()) : null);
        Http.send(ctx, 200, body);
    }

    /** {@code GET /api/v1/batches/{id}?cursor=&limit=}: the batch's counts and one page of its lines. */
    private void getBatch(RoutingContext ctx) {
        String id = batchId(ctx);
        int afterLine = queryInteger(ctx, "cursor", 0, Integer.MAX_VALUE, 0);
        int limit = queryInteger(ctx, "limit", 1, MAX_BATCH_PAGE, MAX_BATCH_PAGE);
        Http.send(ctx, 200, batchPage(id, afterLine, limit));
    }

    /**
     * {@code DELETE /api/v1/batches/{id}}: cancels the batch's queued and running lines; 202 while a running line
     * is still stopping, else 200; the same again later changes nothing.
     */
    private void cancelBatch(RoutingContext ctx) {
        String id = batchId(ctx);
        int stopping = services.batchService().cancel(id);
        Http.send(ctx, stopping > 0 ? 202 : 200, batchPage(id, 0, MAX_BATCH_PAGE));
    }

    private static String batchId(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("batch " + id);
        }
        return id;
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

    /** {id, name, created_at, cancelled_at, state, total, counts, links}: a batch without its lines. */
    private static ObjectNode batchHeader(BatchStore.StoredBatch batch, BatchStore.Summary summary) {
        ObjectNode body = JSON.createObjectNode().put("id", batch.id()).put("name", batch.name())
                .put("created_at", Http.time(batch.createdAt())).put("cancelled_at", Http.time(batch.cancelledAt()))
                .put("state", summary.state(batch.cancelledAt() != null)).put("total", summary.total());
        ObjectNode counts = body.putObject("counts").put("invalid", summary.count("invalid"));
        for (JobState state : JobState.values()) {
            counts.put(state.wireName(), summary.count(state.wireName()));
        }
        body.putObject("links").put("self", "/api/v1/batches/" + batch.id());
        return body;
    }

    private ObjectNode batchView(BatchStore.StoredBatch batch, List<BatchStore.StoredLine> page, BatchStore.Summary summary,
            Integer nextCursor) throws SQLException {
        ObjectNode body = batchHeader(batch, summary);
        Long eta = summary.count("queued") + summary.count("running") == 0 ? null
                : services.queue().etaMs(services.batches().jobIds(batch.id()));
        if (eta != null) {
            body.put("eta_ms", eta);
        } else {
            body.putNull("eta_ms");
        }
        ArrayNode lines = body.putArray("lines");
        Map<String, JobRecord> jobs = services.queue().findAll(page.stream().map(BatchStore.StoredLine::jobId)
                .filter(java.util.Objects::nonNull).toList());
        for (BatchStore.StoredLine line : page) {
            ObjectNode item = lines.addObject().put("line", line.line()).put("prompt", line.prompt()).put("source", line.source());
            if (line.jobId() == null) {
                item.put("status", "invalid");
                item.putObject("error").put("code", line.errorCode()).put("message", line.errorMessage()).put("field", line.errorField());
                continue;
            }
            JobRecord job = jobs.get(line.jobId());
            if (job == null) {
                throw new IllegalStateException("batch " + batch.id() + " line " + line.line() + ": job " + line.jobId() + " is missing");
            }
            item.put("prompt", job.params().prompt()).put("status", job.state().wireName()).put("job_id", job.id());
            int total = job.total() > 0 ? job.total() : job.params().steps();
            item.putObject("progress").put("step", job.state() == JobState.SUCCEEDED ? total : job.step()).put("total", total);
            item.set("images", JSON.valueToTree(job.imageIds()));
            if (job.errorCode() != null) {
                item.putObject("error").put("code", job.errorCode()).put("message", job.errorMessage());
            }
        }
        body.put("next_cursor", nextCursor == null ? null : Integer.toString(nextCursor));
        if (nextCursor != null) {
            ((ObjectNode) body.get("links")).put("next", "/api/v1/batches/" + batch.id() + "?cursor=" + nextCursor);
        }
        return body;
    }
}
