package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.batch.BatchService;
import daguerre.server.batch.BatchStore;
import daguerre.server.cluster.ClusterGallery;
import daguerre.server.cluster.ClusterMembership;
import daguerre.server.cluster.ClusterModels;
import daguerre.server.cluster.ClusterOptions;
import daguerre.server.cluster.ClusterQueue;
import daguerre.server.cluster.ClusterWorker;
import daguerre.server.cluster.PgDatabase;
import daguerre.server.cluster.PgJobs;
import daguerre.server.config.EngineFactory;
import daguerre.server.config.RuntimeOptions;
import daguerre.server.config.ServeConfig;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.RequestException;
import daguerre.server.styles.StyleStore;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node of a cluster ({@code serve --cluster --database jdbc:postgresql://...}): Vert.x
 * clustered over Hazelcast, the queue and gallery index in PostgreSQL, and by role the HTTP API
 * and/or a {@link ClusterWorker}. The HTTP API is the one process's (the same route classes over
 * {@link Services}), with the queue a {@link ClusterQueue}, the gallery a {@link ClusterGallery}
 * and the runtime options in PostgreSQL; it adds {@code /api/v1/cluster}. A worker-only node
 * answers HTTP only for {@code /healthz}, {@code /readyz}, {@code /metrics} and
 * {@code /api/v1/cluster}. Every node returns expired leases to the queue once a second.
 */
public final class ClusterServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** This node's own copy of the cluster's job events, for its SSE and WebSocket streams and its queue view. */
    private static final String LOCAL_EVENTS = "daguerre.jobs.events.local";
    /** The settings key of the A1111 options every api node shares. */
    private static final String A1111_OPTIONS = "a1111_options";
    /** Images kept for A1111 clients that never took them (their api node went away) are deleted this long after their job ended. */
    private static final long UNTAKEN_RESULTS_MILLIS = 3_600_000;

    private final ServeConfig config;
    private final ClusterOptions options;
    private final ClusterMembership cluster;
    private final PgDatabase database;
    private final PgJobs jobs;
    private final ClusterGallery gallery;
    private final ImageEngine engine;
    private final ClusterModels models;
    private final ClusterQueue queue;
    private final ClusterWorker worker;
    private final ServiceLog log;
    /** What this worker last registered of its models (cards, embeddings), to register again only what changed. */
    private Map<String, String> registered = Map.of();
    private HttpServer http;
    private long reaper = -1;
    private long reaps;
    private boolean closed;

    /** The images folder every node mounts; it also holds the api nodes' shared {@code styles.csv}. */
    private final Path images;

    private ClusterServer(ServeConfig config, ClusterOptions options, ClusterMembership cluster, PgDatabase database,
            ImageEngine engine, ServiceLog log) throws Exception {
        this.config = config;
        this.options = options;
        this.cluster = cluster;
        this.database = database;
        this.log = log;
        this.jobs = new PgJobs(database);
        this.images = options.images() != null ? options.images() : config.dataDir().resolve("images");
        this.gallery = new ClusterGallery(database, images);
        this.engine = engine;
        this.models = new ClusterModels(database, cluster::served,
                new daguerre.diffusion.lora.LoraLibrary(config.loraDir(), 0, new daguerre.weights.model.ModelHasher()));
        if (engine != null) {
            registered = ClusterModels.descriptors(engine);
            ClusterModels.register(database, registered);
        }
        models.refresh();
        this.queue = options.role().runsHttpApi() ? new ClusterQueue(cluster, jobs, config.limits()) : null;
        this.worker = options.role().runsJobs()
                ? new ClusterWorker(cluster, jobs, gallery, engine, config.previewEvery(), options.leaseSeconds() * 1000L) : null;
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
            if (engine != null) {
                registerChangedModels();
            }
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
                info.put("slots", worker.slots());
                if (!Double.isNaN(worker.msPerUnit())) {
                    info.put("ms_per_unit", worker.msPerUnit());
                }
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
        if (queue != null) {
            queue.start(LOCAL_EVENTS);
        }
        http = DaguerreServer.listen(vertx, config, router(vertx), log);
    }

    /** A worker's models as registered, again when their embeddings folder (or anything else registered) changed. */
    private synchronized void registerChangedModels() {
        try {
            Map<String, String> now = ClusterModels.descriptors(engine);
            if (!now.equals(registered)) {
                ClusterModels.register(database, now);
                registered = now;
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("cannot register this worker's models again (the database may be restarting): {}", e.getMessage());
        }
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
            if (reaps++ % 60 == 0) {
                jobs.deleteUntakenResults(System.currentTimeMillis() - UNTAKEN_RESULTS_MILLIS);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("cannot return expired leases to the queue (the database may be restarting): {}", e.getMessage());
        }
        return null;
    }

    private void publish(String jobId, String event, ObjectNode data) {
        cluster.publishJobEvent(jobId, event, data, null);
    }

    /** This node's cluster id. */
    public String nodeId() {
        return cluster.nodeId();
    }

    /** The bound HTTP port. */
    public int port() {
        return http.actualPort();
    }

    /** An api node's router: the one process's routes over the cluster's services, and this node's monitoring; a worker's: monitoring only. */
    private Router router(Vertx vertx) {
        if (options.role().runsHttpApi()) {
            RuntimeOptions runtime = new RuntimeOptions(database.settings(), models);
            GenerationRequests requests = new GenerationRequests(models, config.limits(), () -> {
                try {
                    return runtime.defaultModel();
                } catch (SQLException e) {
                    throw new RequestException(503, "database_unavailable", "the settings database is unavailable: " + e.getMessage(), null);
                }
            });
            BatchStore batches = BatchStore.postgres(database);
            Services services = new Services(vertx, config, models, queue, gallery, requests, runtime,
                    A1111Options.shared(database.settings(), A1111_OPTIONS), LOCAL_EVENTS, new StyleStore(images), batches,
                    new BatchService(models, requests, queue, batches));
            return DaguerreServer.router(services, log, this::monitoring);
        }
        Router router = Router.router(vertx);
        router.route().handler(log::handle);
        if (config.authenticationRequired()) {
            router.route().handler(new Authentication(config));
        }
        monitoring(router);
        router.route().handler(ctx -> ctx.fail(404));
        router.route().failureHandler(DaguerreServer::failure);
        return router;
    }

    /** {@code /healthz}, {@code /readyz}, {@code /metrics} of this node, and {@code /api/v1/cluster}. */
    private void monitoring(Router router) {
        router.get("/healthz").handler(ctx -> Http.send(ctx, 200, JSON.createObjectNode().put("status", "ok")
                .put("node", cluster.nodeId()).put("role", options.role().optionName())));
        router.get("/readyz").blockingHandler(this::ready, false);
        router.get("/metrics").blockingHandler(this::metrics, false);
        router.get("/api/v1/cluster").handler(ctx -> Http.send(ctx, 200, cluster.view()));
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

    /** Stops gracefully: no new requests, running jobs back in the queue, leaves the cluster, closes the database. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (queue != null) {
            queue.close();
        }
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
