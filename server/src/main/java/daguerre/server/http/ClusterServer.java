package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.cluster.ClusterGallery;
import daguerre.server.cluster.ClusterMembership;
import daguerre.server.cluster.ClusterModels;
import daguerre.server.cluster.ClusterOptions;
import daguerre.server.cluster.ClusterWorker;
import daguerre.server.cluster.PgDatabase;
import daguerre.server.cluster.PgJobs;
import daguerre.server.config.EngineFactory;
import daguerre.server.config.ServeConfig;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node of a cluster ({@code serve --cluster --database jdbc:postgresql://...}): Vert.x
 * clustered over Hazelcast, the queue and gallery index in PostgreSQL, and by role an HTTP API
 * (native job routes, event streams, images, {@code /api/v1/cluster}) and/or a
 * {@link ClusterWorker}. A worker-only node answers HTTP only for {@code /healthz},
 * {@code /readyz}, {@code /metrics} and {@code /api/v1/cluster}. Every node returns expired
 * leases to the queue once a second.
 */
public final class ClusterServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long HEARTBEAT_MILLIS = 15_000;
    private static final int RECENT_JOBS = 50;
    /** This node's own copy of the cluster's job events, for its SSE and WebSocket streams. */
    private static final String LOCAL_EVENTS = "daguerre.jobs.events.local";

    private final ServeConfig config;
    private final ClusterOptions options;
    private final ClusterMembership cluster;
    private final PgDatabase database;
    private final PgJobs jobs;
    private final ClusterGallery gallery;
    private final ImageEngine engine;
    private final ClusterModels models;
    private final GenerationRequests requests;
    private final ClusterWorker worker;
    private final ServiceLog log;
    private HttpServer http;
    private long reaper = -1;
    private boolean closed;

    private ClusterServer(ServeConfig config, ClusterOptions options, ClusterMembership cluster, PgDatabase database,
            ImageEngine engine, ServiceLog log) throws Exception {
        this.config = config;
        this.options = options;
        this.cluster = cluster;
        this.database = database;
        this.log = log;
        this.jobs = new PgJobs(database);
        Path images = options.images() != null ? options.images() : config.dataDir().resolve("images");
        this.gallery = new ClusterGallery(database, images);
        this.engine = engine;
        this.models = new ClusterModels(database, cluster::served,
                new daguerre.diffusion.lora.LoraLibrary(config.loraDir(), 0, new daguerre.weights.model.ModelHasher()));
        if (engine != null) {
            ClusterModels.register(database, engine);
        }
        models.refresh();
        this.requests = new GenerationRequests(models, config.limits(), models::defaultModelId);
        this.worker = options.role().runsJobs() ? new ClusterWorker(cluster, jobs, gallery, engine, config.previewEvery()) : null;
    }

    /**
     * Joins the cluster, opens the database (migrating it), loads the models of a worker, starts
     * the worker and the HTTP server; returns once the port is bound.
     */
    public static ClusterServer start(ServeConfig config, ClusterOptions options, EngineFactory engines) throws Exception {
        ServiceLog log = new ServiceLog(config.logFormat(), System.out, Clock.systemUTC());
        PgDatabase database = PgDatabase.open(options.databaseUrl(), options.databaseUser(), options.databasePassword());
        ImageEngine engine = null;
        ClusterMembership cluster = null;
        try {
            engine = options.role().runsJobs() ? engines.create(config) : null;
            cluster = ClusterMembership.join(options);
            LOG.info("cluster node {} ({}) joined cluster {}", cluster.nodeId(), options.role().optionName(), options.name());
            ClusterServer server = new ClusterServer(config, options, cluster, database, engine, log);
            server.startServing();
            return server;
        } catch (Exception e) {
            if (cluster != null) {
                cluster.close();
            }
            if (engine != null) {
                engine.close();
            }
            database.close();
            throw e;
        }
    }

    private void startServing() throws Exception {
        Vertx vertx = cluster.vertx();
        if (worker != null) {
            worker.start();
        }
        vertx.setPeriodic(2000, t -> vertx.executeBlocking(() -> {
            models.refresh();
            return null;
        }, false));
        reaper = vertx.setPeriodic(1000, t -> vertx.executeBlocking(this::reap, false));
        cluster.startHeartbeat(() -> {
            ObjectNode info = JSON.createObjectNode().put("role", options.role().optionName());
            ArrayNode served = info.putArray("models");
            ArrayNode running = info.putArray("running");
            if (worker != null) {
                worker.models().forEach(served::add);
                worker.runningJobs().forEach(running::add);
            }
            info.put("http", http == null ? null : options.host() + ":" + http.actualPort());
            return info;
        });
        // a node announcing a model this node does not know yet: read the registered models again now
        vertx.eventBus().<String>consumer(ClusterMembership.NODES_ADDRESS, m -> {
            for (JsonNode model : ClusterMembership.parse(m.body()).path("models")) {
                if (models.models().stream().noneMatch(known -> known.id().equals(model.asText()))) {
                    vertx.executeBlocking(() -> {
                        models.refresh();
                        return null;
                    }, false);
                    return;
                }
            }
        });
        // one cluster-wide subscription per node, relayed to this node's event streams on a local address
        // (a clustered consumer per stream would add and remove a cluster-wide registration per client)
        DeliveryOptions localOnly = new DeliveryOptions().setLocalOnly(true);
        vertx.eventBus().<String>consumer(ClusterMembership.EVENTS_ADDRESS, m -> {
            vertx.eventBus().publish(LOCAL_EVENTS, m.body(), localOnly);
            // the job lines of the log: an api node logs every job's state changes, a worker those of its own jobs
            JsonNode event = ClusterMembership.parse(m.body());
            String name = event.path("event").asText();
            if (!name.equals("progress") && !name.equals("preview")
                    && (options.role().runsHttpApi() || cluster.nodeId().equals(event.path("worker").asText()))) {
                log.job(event.path("job_id").asText(), name);
            }
        });
        http = vertx.createHttpServer(new HttpServerOptions().setHost(config.host()).setPort(config.port())
                .setHttp2ClearTextEnabled(false).setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
                .setIdleTimeout((int) Math.min(Integer.MAX_VALUE, config.connections().idleTimeoutMillis())));
        http.requestHandler(router(vertx));
        http.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    /** Returns expired leases to the queue (or fails jobs lost too often) and tells the streams. */
    private Void reap() {
        try {
            PgJobs.Expired expired = jobs.requeueExpired(config.limits().maxJobRestarts(), System.currentTimeMillis());
            for (String id : expired.requeued()) {
                LOG.warn("job {}: its worker stopped renewing its lease; back in the queue", id);
                publish(id, "queued", JSON.createObjectNode().put("position", jobs.position(id)));
            }
            for (String id : expired.failed()) {
                JobRecord job = jobs.find(id).orElseThrow().record();
                ObjectNode data = JSON.createObjectNode();
                data.putObject("error").put("code", job.errorCode()).put("message", job.errorMessage());
                publish(id, "failed", data);
            }
            for (String id : expired.cancelled()) {
                publish(id, "cancelled", JSON.createObjectNode());
            }
            if (!expired.requeued().isEmpty()) {
                cluster.vertx().eventBus().publish(ClusterMembership.QUEUED_ADDRESS, "{}");
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("cannot return expired leases to the queue (the database may be restarting): {}", e.getMessage());
        }
        return null;
    }

    private void publish(String jobId, String event, ObjectNode data) {
        ObjectNode envelope = JSON.createObjectNode().put("job_id", jobId).put("event", event);
        envelope.set("data", data);
        cluster.vertx().eventBus().publish(ClusterMembership.EVENTS_ADDRESS, envelope.toString());
    }

    /** This node's cluster id. */
    public String nodeId() {
        return cluster.nodeId();
    }

    /** The bound HTTP port. */
    public int port() {
        return http.actualPort();
    }

    private Router router(Vertx vertx) {
        Router router = Router.router(vertx);
        router.route().handler(log::handle);
        if (config.authenticationRequired()) {
            router.route().handler(new Authentication(config));
        }
        router.get("/healthz").handler(ctx -> Http.send(ctx, 200, JSON.createObjectNode().put("status", "ok")
                .put("node", cluster.nodeId()).put("role", options.role().optionName())));
        router.get("/readyz").blockingHandler(this::ready, false);
        router.get("/metrics").blockingHandler(this::metrics, false);
        router.get("/api/v1/cluster").handler(ctx -> Http.send(ctx, 200, cluster.view()));
        if (options.role().runsHttpApi()) {
            router.get("/api/v1/ws").handler(this::webSocket);
            router.route().handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()));
            router.post("/api/v1/generations").blockingHandler(this::generate, false);
            router.get("/api/v1/jobs").blockingHandler(this::listJobs, false);
            router.get("/api/v1/jobs/:id").blockingHandler(this::getJob, false);
            router.post("/api/v1/jobs/:id/cancel").blockingHandler(this::cancel, false);
            router.get("/api/v1/jobs/:id/events").handler(this::sse);
            router.get("/api/v1/models").handler(this::models);
            router.get("/api/v1/samplers").handler(this::samplers);
            router.get("/api/v1/images/:id").blockingHandler(this::png, false);
            router.route("/*").handler(StaticHandler.create(Authentication.WEBROOT).setCachingEnabled(false));
        }
        router.route().handler(ctx -> ctx.fail(404));
        router.route().failureHandler(ClusterServer::failure);
        return router;
    }

    private void ready(RoutingContext ctx) {
        boolean ready = !closed && (worker == null || !worker.models().isEmpty());
        ObjectNode body = JSON.createObjectNode().put("status", ready ? "ready" : "not ready").put("node", cluster.nodeId());
        try {
            body.put("queue_depth", jobs.countByState().get(JobState.QUEUED));
        } catch (SQLException e) {
            ready = false;
            body.put("status", "not ready").put("database", e.getMessage());
        }
        Http.send(ctx, ready ? 200 : 503, body);
    }

    private void metrics(RoutingContext ctx) {
        StringBuilder text = new StringBuilder();
        try {
            text.append("# HELP daguerre_jobs Jobs in the shared database by state.\n# TYPE daguerre_jobs gauge\n");
            jobs.countByState().forEach((state, count) ->
                    text.append("daguerre_jobs{state=\"").append(state.wireName()).append("\"} ").append(count).append('\n'));
            text.append("# HELP daguerre_gallery_images Images in the gallery.\n# TYPE daguerre_gallery_images gauge\n")
                    .append("daguerre_gallery_images ").append(gallery.count()).append('\n');
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read job counts: " + e.getMessage(), e);
        }
        text.append("# HELP daguerre_cluster_nodes Live cluster nodes.\n# TYPE daguerre_cluster_nodes gauge\n")
                .append("daguerre_cluster_nodes ").append(cluster.liveNodes().size()).append('\n');
        if (worker != null) {
            text.append("# HELP daguerre_worker_jobs_ended_total Jobs this worker ended.\n# TYPE daguerre_worker_jobs_ended_total counter\n")
                    .append("daguerre_worker_jobs_ended_total ").append(worker.finishedJobs()).append('\n');
        }
        ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(text.toString());
    }

    private void generate(RoutingContext ctx) {
        JsonNode request = Http.body(ctx);
        GenerationParams params;
        try {
            params = requests.parse(request, true);
        } catch (RequestException e) {
            if (!e.code().equals("model_not_found")) {
                throw e;
            }
            try {
                models.refresh(); // a worker may have registered the model since the last refresh
            } catch (SQLException refreshFailed) {
                throw e;
            }
            params = requests.parse(request, true);
        }
        String id = Ids.newId();
        try {
            long queued = jobs.countByState().get(JobState.QUEUED);
            if (queued >= config.limits().queueSize()) {
                throw new RequestException(429, "queue_full", "the queue is full (" + config.limits().queueSize() + " jobs); retry later",
                        null, 5L);
            }
            jobs.insert(id, params, System.currentTimeMillis());
            ctx.put(ServiceLog.JOB_ID, id);
            int position = jobs.position(id);
            publish(id, "queued", JSON.createObjectNode().put("position", position));
            cluster.vertx().eventBus().publish(ClusterMembership.QUEUED_ADDRESS, "{}");
            ObjectNode body = JSON.createObjectNode().put("id", id).put("status", "queued").put("position", position);
            body.set("warnings", JSON.valueToTree(requests.warnings(params)));
            body.set("links", JobViews.links(id));
            ctx.response().putHeader("Location", "/api/v1/jobs/" + id);
            Http.send(ctx, 202, body);
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the job database is unavailable: " + e.getMessage(), null);
        }
    }

    private void listJobs(RoutingContext ctx) {
        try {
            ArrayNode active = JSON.createArrayNode();
            List<PgJobs.ClusterJob> activeJobs = jobs.active();
            for (PgJobs.ClusterJob job : activeJobs) {
                active.add(view(job));
            }
            ArrayNode recent = JSON.createArrayNode();
            for (PgJobs.ClusterJob job : jobs.recentFinished(RECENT_JOBS)) {
                recent.add(view(job));
            }
            ObjectNode body = JSON.createObjectNode().put("queue_depth",
                    activeJobs.stream().filter(j -> j.record().state() == JobState.QUEUED).count());
            body.set("items", active);
            body.set("recent", recent);
            Http.send(ctx, 200, body);
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the job database is unavailable: " + e.getMessage(), null);
        }
    }

    private void getJob(RoutingContext ctx) {
        Http.send(ctx, 200, view(findJob(ctx.pathParam("id"))));
    }

    private void cancel(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("job " + id);
        }
        JobState state;
        try {
            state = jobs.cancel(id, System.currentTimeMillis()).orElseThrow(() -> RequestException.notFound("job " + id));
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the job database is unavailable: " + e.getMessage(), null);
        }
        if (state == JobState.RUNNING) {
            cluster.vertx().eventBus().publish(ClusterMembership.CANCEL_ADDRESS, JSON.createObjectNode().put("job_id", id).toString());
        } else if (state == JobState.CANCELLED) {
            publish(id, "cancelled", JSON.createObjectNode());
        } else {
            throw new RequestException(409, "job_finished", "job " + id + " is already " + state.wireName(), null);
        }
        ObjectNode body = view(findJob(id));
        body.put("cancel", state == JobState.RUNNING ? "requested" : "done");
        Http.send(ctx, state == JobState.RUNNING ? 202 : 200, body);
    }

    private PgJobs.ClusterJob findJob(String id) {
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("job " + id);
        }
        try {
            return jobs.find(id).orElseThrow(() -> RequestException.notFound("job " + id));
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the job database is unavailable: " + e.getMessage(), null);
        }
    }

    /** The native job view, with {@code worker} (the node that runs or ran it) and, for a waiting job, {@code waiting_for}. */
    private ObjectNode view(PgJobs.ClusterJob job) {
        JobRecord r = job.record();
        ObjectNode json = JSON.createObjectNode().put("id", r.id()).put("status", r.state().wireName());
        int position;
        try {
            position = jobs.position(r.id());
        } catch (SQLException e) {
            position = -1;
        }
        if (position >= 0) {
            json.put("position", position);
        } else {
            json.putNull("position");
        }
        json.putNull("eta_ms");
        json.putObject("progress").put("step", r.state() == JobState.SUCCEEDED ? r.total() : r.step()).put("total", r.total());
        json.put("created_at", Http.time(r.createdAt()));
        json.put("started_at", Http.time(r.startedAt()));
        json.put("finished_at", Http.time(r.finishedAt()));
        ObjectNode request = GenerationRequests.toJson(r.params());
        request.put("init_image", r.params().initImage() != null);
        json.set("request", request);
        json.set("images", JSON.valueToTree(r.imageIds()));
        if (r.errorCode() != null) {
            json.putObject("error").put("code", r.errorCode()).put("message", r.errorMessage());
        } else {
            json.putNull("error");
        }
        json.put("requeued", r.requeued());
        json.put("worker", job.worker());
        if (r.state() == JobState.QUEUED && !cluster.served(r.params().model())) {
            json.put("waiting_for", "no live worker serves model " + r.params().model() + "; the job waits for one");
        }
        json.set("links", JobViews.links(r.id()));
        return json;
    }

    private void models(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (ModelDescriptor model : models.models()) {
            items.addObject().put("id", model.id()).put("name", model.name()).put("hash", model.hash()).put("family", model.family())
                    .put("default_width", model.defaultWidth()).put("default_height", model.defaultHeight())
                    .put("max_pixels", requests.limits().maxPixels(model)).put("description", model.description())
                    .put("default", model.id().equals(models.defaultModelId())).put("served", cluster.served(model.id()));
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    private void samplers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (SamplerDescriptor sampler : models.samplers()) {
            items.addObject().put("name", sampler.name()).put("a1111_name", sampler.a1111Name());
        }
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    private void png(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        Optional<Path> file;
        try {
            file = gallery.file(id);
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the gallery index is unavailable: " + e.getMessage(), null);
        }
        Path found = file.orElseThrow(() -> RequestException.notFound("image " + id));
        try {
            ctx.response().putHeader("Content-Type", "image/png").end(io.vertx.core.buffer.Buffer.buffer(Files.readAllBytes(found)));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** One job's events as Server-Sent Events: its current state first, then what any worker publishes, to a final event. */
    private void sse(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!Ids.isValid(id)) {
            ctx.fail(RequestException.notFound("job " + id));
            return;
        }
        Vertx vertx = cluster.vertx();
        HttpServerResponse response = ctx.response();
        List<JsonNode> early = new ArrayList<>();
        boolean[] snapshotSent = {false};
        MessageConsumer<String> consumer = vertx.eventBus().localConsumer(LOCAL_EVENTS, message -> {
            JsonNode envelope = ClusterMembership.parse(message.body());
            if (!id.equals(envelope.path("job_id").asText())) {
                return;
            }
            if (snapshotSent[0]) {
                EventStreams.writeSse(response, envelope);
            } else {
                early.add(envelope);
            }
        });
        consumer.completion().compose(ready -> vertx.executeBlocking(() -> jobs.find(id), false))
                .onFailure(ctx::fail)
                .onSuccess(found -> {
                    if (found.isEmpty()) {
                        consumer.unregister();
                        ctx.fail(RequestException.notFound("job " + id));
                        return;
                    }
                    response.setChunked(true).putHeader("Content-Type", "text/event-stream; charset=utf-8")
                            .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
                    long heartbeat = vertx.setPeriodic(HEARTBEAT_MILLIS, timer -> {
                        if (response.ended() || response.closed()) {
                            consumer.unregister();
                            vertx.cancelTimer(timer);
                        } else {
                            response.write(": keep-alive\n\n");
                        }
                    });
                    Runnable stop = () -> {
                        consumer.unregister();
                        vertx.cancelTimer(heartbeat);
                    };
                    response.closeHandler(v -> stop.run());
                    response.endHandler(v -> stop.run());
                    EventStreams.writeSse(response, snapshot(found.get()));
                    snapshotSent[0] = true;
                    early.forEach(e -> EventStreams.writeSse(response, e));
                    early.clear();
                });
    }

    private static ObjectNode snapshot(PgJobs.ClusterJob job) {
        JobRecord r = job.record();
        ObjectNode envelope = JSON.createObjectNode().put("job_id", r.id());
        if (job.worker() != null) {
            envelope.put("worker", job.worker());
        }
        ObjectNode data = JSON.createObjectNode();
        switch (r.state()) {
            case QUEUED -> envelope.put("event", "queued");
            case RUNNING -> {
                envelope.put("event", "progress");
                data.put("step", r.step()).put("total", r.total());
            }
            case SUCCEEDED -> {
                envelope.put("event", "succeeded");
                data.set("images", JSON.valueToTree(r.imageIds()));
            }
            case FAILED -> {
                envelope.put("event", "failed");
                data.putObject("error").put("code", r.errorCode()).put("message", r.errorMessage());
            }
            case CANCELLED -> envelope.put("event", "cancelled");
            default -> throw new IllegalStateException();
        }
        envelope.set("data", data);
        return envelope;
    }

    /** Every job's events as WebSocket text frames, after {@code {"event":"subscribed"}}. */
    private void webSocket(RoutingContext ctx) {
        EventStreams.relayToWebSocket(ctx, frames -> cluster.vertx().eventBus().localConsumer(LOCAL_EVENTS, frames));
    }

    private static void failure(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        RequestException error;
        if (failure instanceof RequestException e) {
            error = e;
        } else if (failure == null || ctx.statusCode() > 0 && ctx.statusCode() < 500) {
            int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            error = status == 404 ? new RequestException(404, "not_found", "no route " + ctx.request().method() + " "
                    + ctx.normalizedPath() + " on this node", null)
                    : new RequestException(status, "error", "request failed with status " + status, null);
        } else {
            LOG.error("{} {} failed", ctx.request().method(), ctx.normalizedPath(), failure);
            error = new RequestException(500, "internal_error", "internal error; see the server log", null);
        }
        if (ctx.response().ended() || ctx.response().headWritten()) {
            if (!ctx.response().ended()) {
                ctx.response().end();
            }
            return;
        }
        if (error.retryAfterSeconds() != null) {
            ctx.response().putHeader("Retry-After", Long.toString(error.retryAfterSeconds()));
        }
        Http.send(ctx, error.status(), ApiFamily.NATIVE.body(error, null));
    }

    /** Stops gracefully: no new requests, running jobs back in the queue, leaves the cluster, closes the database. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (http != null) {
                http.shutdown(5, TimeUnit.SECONDS).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            LOG.warn("HTTP server did not shut down cleanly", e);
        }
        if (worker != null) {
            try {
                worker.stop(config.shutdownGraceMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (reaper >= 0) {
            cluster.vertx().cancelTimer(reaper);
        }
        cluster.close();
        database.close();
        if (engine != null) {
            try {
                engine.close();
            } catch (Exception e) {
                LOG.warn("engine did not close cleanly", e);
            }
        }
    }
}
