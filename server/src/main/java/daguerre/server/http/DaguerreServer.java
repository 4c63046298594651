package daguerre.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceCore;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobEvents;
import daguerre.server.jobs.JobQueue;
import daguerre.server.jobs.RequestException;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running service: the Vert.x HTTP server with all routes, the job queue and its worker,
 * the gallery, over one SQLite database in the data directory. {@link #close()} stops it
 * gracefully: no new connections, the running job is put back in the queue, the database is closed.
 */
public final class DaguerreServer implements AutoCloseable {

    /** The event-bus address job events are published on (one JSON message per event). */
    public static final String EVENTS_ADDRESS = "daguerre.jobs.events";

    private static final Logger LOG = LoggerFactory.getLogger(DaguerreServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Vertx vertx;
    private final HttpServer httpServer;
    private final Router router;
    private final ServiceCore core;
    private final ImageEngine engine;
    private boolean closed;

    private DaguerreServer(Vertx vertx, HttpServer httpServer, Router router, ServiceCore core, ImageEngine engine) {
        this.vertx = vertx;
        this.httpServer = httpServer;
        this.router = router;
        this.core = core;
        this.engine = engine;
    }

    /** {@link #start(ServeConfig, ImageEngine, ServiceLog)} with the log on standard output in the configured format. */
    public static DaguerreServer start(ServeConfig config, ImageEngine engine) throws Exception {
        return start(config, engine, new ServiceLog(config.logFormat(), System.out, Clock.systemUTC()));
    }

    /**
     * Opens the data directory, restores the queue, starts the worker and listens; returns once the
     * port is bound. Every request and every job state change is written to {@code log}.
     */
    public static DaguerreServer start(ServeConfig config, ImageEngine engine, ServiceLog log) throws Exception {
        Vertx vertx = Vertx.vertx();
        JobEvents events = (jobId, event, data) -> {
            if (!event.equals("progress") && !event.equals("preview")) {
                log.job(jobId, event);
            }
            ObjectNode envelope = JSON.createObjectNode().put("job_id", jobId).put("event", event);
            envelope.set("data", data);
            vertx.eventBus().publish(EVENTS_ADDRESS, envelope.toString());
        };
        ServiceCore core;
        try {
            core = ServiceCore.open(config, engine, events);
        } catch (Exception e) {
            vertx.close();
            throw e;
        }
        try {
            if (core.restoredJobs() > 0) {
                LOG.info("{} jobs back in the queue from the last run", core.restoredJobs());
            }
            core.startWorker();
            Router router = router(Services.local(vertx, core), log, r -> monitoring(r, core));
            HttpServer server = listen(vertx, config, router, log);
            return new DaguerreServer(vertx, server, router, core, engine);
        } catch (Exception e) {
            core.close();
            vertx.close();
            throw e;
        }
    }

    /**
     * Serves {@code router} on the configured host and port, with the connection limits, and
     * answers requests the HTTP decoder or the URI check refuse; returns once the port is bound.
     */
    static HttpServer listen(Vertx vertx, ServeConfig config, Router router, ServiceLog log) throws Exception {
        // Vert.x's idle timeout closes silent connections until their first request; ConnectionGuard then takes over
        HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost(config.host()).setPort(config.port())
                // HTTP/1.1 only: a cleartext HTTP/2 upgrade (h2c) without its settings would leave the request unanswered
                .setHttp2ClearTextEnabled(false)
                .setCompressionSupported(true).setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
                .setIdleTimeout((int) Math.min(Integer.MAX_VALUE, config.connections().idleTimeoutMillis())));
        ConnectionGuard connections = new ConnectionGuard(config.connections());
        server.connectionHandler(connections::onConnection);
        server.requestHandler(request -> {
            if (!connections.onRequest(request)) {
                return;
            }
            if (!Http.percentEscapesValid(request.uri())) {
                refuse(request, log, new RequestException(400, "invalid_uri",
                        "the request URI has a % that does not start an escape of two hex digits", null));
                return;
            }
            router.handle(request);
        });
        // requests Netty could not parse: a request line over the limit (414), headers too large (431), malformed ones (400)
        server.invalidRequestHandler(request -> refuse(request, log, invalidRequest(request)));
        connections.start(vertx);
        server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        connections.watchAccepted(server);
        return server;
    }

    /** The error for a request the HTTP decoder refused, with the status Vert.x's own handler would give. */
    private static RequestException invalidRequest(HttpServerRequest request) {
        Throwable cause = request.decoderResult().cause();
        if (cause instanceof TooLongHttpLineException) {
            return new RequestException(414, "uri_too_long", "the request line is longer than the limit", null);
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return new RequestException(431, "headers_too_large", "the request headers are larger than the limit", null);
        }
        return new RequestException(400, "malformed_request", "the request is not valid HTTP/1.1"
                + (cause == null || cause.getMessage() == null ? "" : ": " + ServiceLog.printable(cause.getMessage())), null);
    }

    /**
     * Answers a request refused before routing in the error shape of its path's family and closes
     * the connection: what follows on it cannot be trusted. A request line the decoder could not
     * read has the placeholder path {@code /bad-request}: the native shape.
     */
    private static void refuse(HttpServerRequest request, ServiceLog log, RequestException error) {
        String path = request.path() != null ? request.path() : "/";
        ApiFamily family = ApiFamily.of(path);
        request.response().putHeader("Connection", "close");
        Http.send(request.response(), family.status(error), family.body(error, null));
        log.request(request.method() == null ? "?" : request.method().name(), ServiceLog.printable(path), family.status(error), 0, null);
        request.connection().close();
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return httpServer.actualPort();
    }

    /** The router with every route the service answers (tests walk it). */
    Router router() {
        return router;
    }

    /**
     * The router every node that serves the HTTP API uses (one process, or a cluster's api node):
     * {@code monitoring} mounts the node's own {@code /healthz}, {@code /readyz} and {@code /metrics}.
     */
    static Router router(Services services, ServiceLog log, java.util.function.Consumer<Router> monitoring) {
        Router router = Router.router(services.vertx());
        router.route().handler(log::handle);
        ServeConfig config = services.config();
        if (!config.corsOrigins().isEmpty()) {
            CorsHandler cors = CorsHandler.create();
            if (!config.corsOrigins().contains("*")) {
                config.corsOrigins().forEach(cors::addOrigin);
            }
            cors.allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE, HttpMethod.OPTIONS))
                    .allowedHeaders(Set.of("Authorization", "Content-Type"));
            router.route().handler(cors);
        }
        if (config.authenticationRequired()) {
            router.route().handler(new Authentication(config));
        }
        EventStreams events = new EventStreams(services);
        events.mountWebSocket(router);
        router.route().handler(DaguerreServer::refuseFormsWithoutBody);
        // OpenAI's image edits upload files (multipart); they go to a folder of the data directory, deleted when answered
        router.post("/v1/images/edits").handler(BodyHandler.create(config.dataDir().resolve("uploads").toString())
                .setBodyLimit(config.maxBodyBytes()).setDeleteUploadedFilesOnEnd(true));
        router.route().handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()));
        monitoring.accept(router);
        router.get("/api/v1/openapi.json").handler(DaguerreServer::openApi);
        new NativeApi(services).mount(router);
        new GalleryApi(services).mount(router);
        new StylesApi(services).mount(router);
        new BoardsApi(services).mount(router);
        events.mount(router);
        new A1111Api(services).mount(router);
        new OpenAiApi(services).mount(router);
        router.route("/*").handler(StaticHandler.create(Authentication.WEBROOT).setCachingEnabled(false));
        router.route().handler(ctx -> ctx.fail(404));
        router.route().failureHandler(DaguerreServer::failure);
        return router;
    }

    /** This process's health, readiness and metrics routes. */
    private static void monitoring(Router router, ServiceCore core) {
        router.get("/healthz").handler(ctx -> Http.send(ctx, 200, JSON.createObjectNode().put("status", "ok")));
        router.get("/readyz").handler(ctx -> ready(ctx, core));
        router.get("/metrics").blockingHandler(ctx -> metrics(ctx, core), false);
    }

    /**
     * A form content type on a method without a body (GET with {@code multipart/form-data}) would
     * make the body handler throw; the API takes JSON bodies only, so such a request gets a 415.
     */
    private static void refuseFormsWithoutBody(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        HttpMethod method = ctx.request().method();
        boolean form = type != null && (type.regionMatches(true, 0, "multipart/", 0, 10)
                || type.regionMatches(true, 0, "application/x-www-form-urlencoded", 0, 33));
        if (form && method != HttpMethod.POST && method != HttpMethod.PUT && method != HttpMethod.PATCH && method != HttpMethod.DELETE) {
            ctx.fail(new RequestException(415, "unsupported_media_type",
                    "a " + method + " request takes no form body; send JSON (application/json) on POST routes", null));
            return;
        }
        ctx.next();
    }

    private static void ready(RoutingContext ctx, ServiceCore core) {
        boolean ready = !core.queue().isClosed() && !core.engine().models().isEmpty();
        Http.send(ctx, ready ? 200 : 503, JSON.createObjectNode().put("status", ready ? "ready" : "not ready")
                .put("models", core.engine().models().size()).put("queue_depth", core.queue().depth()));
    }

    private static void metrics(RoutingContext ctx, ServiceCore core) {
        JobQueue.Stats stats = core.queue().stats();
        StringBuilder text = new StringBuilder();
        gauge(text, "daguerre_queue_depth", "Jobs waiting in the queue.", stats.queueDepth());
        gauge(text, "daguerre_jobs_running", "Jobs running now.", stats.running());
        try {
            text.append("# HELP daguerre_jobs Jobs in the database by state.\n# TYPE daguerre_jobs gauge\n");
            core.jobs().countByState().forEach((state, count) ->
                    text.append("daguerre_jobs{state=\"").append(state.wireName()).append("\"} ").append(count).append('\n'));
            gauge(text, "daguerre_gallery_images", "Images in the gallery.", core.gallery().count());
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot read job counts: " + e.getMessage(), e);
        }
        summary(text, "daguerre_step_seconds", "Time per denoising step.", stats.stepMillisTotal(), stats.stepsDone());
        summary(text, "daguerre_job_seconds", "Running time per finished job.", stats.jobMillisTotal(), stats.jobsFinished());
        text.append("# HELP daguerre_images_generated_total Images generated since start.\n# TYPE daguerre_images_generated_total counter\n")
                .append("daguerre_images_generated_total ").append(stats.imagesGenerated()).append('\n');
        ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(text.toString());
    }

    private static void gauge(StringBuilder text, String name, String help, long value) {
        text.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(value).append('\n');
    }

    private static void summary(StringBuilder text, String name, String help, long millis, long count) {
        text.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" summary\n")
                .append(name).append("_sum ").append(millis / 1000.0).append('\n')
                .append(name).append("_count ").append(count).append('\n');
    }

    private static void openApi(RoutingContext ctx) {
        try (var in = DaguerreServer.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the classpath");
            }
            ctx.response().putHeader("Content-Type", "application/json; charset=utf-8")
                    .end(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Answers a failed request in the error shape of its path's API family. */
    static void failure(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        RequestException error;
        if (failure instanceof RequestException e) {
            error = e;
        } else if (failure == null || ctx.statusCode() > 0 && ctx.statusCode() < 500) {
            int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            error = switch (status) {
                case 404 -> new RequestException(404, "not_found", "no route " + ctx.request().method() + " " + ctx.normalizedPath(), null);
                case 405 -> new RequestException(405, "method_not_allowed", "method " + ctx.request().method() + " not allowed here", null);
                case 413 -> new RequestException(413, "body_too_large", "the request body is larger than the limit", null);
                default -> new RequestException(status, "error", "request failed with status " + status, null);
            };
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
        ApiFamily family = ApiFamily.of(ctx.normalizedPath());
        if (error.retryAfterSeconds() != null) {
            ctx.response().putHeader("Retry-After", Long.toString(error.retryAfterSeconds()));
        }
        // A1111 echoes the body; as UTF-8 whatever the request claimed, so that a bad charset cannot fail the error itself
        String body = family == ApiFamily.A1111 && ctx.body() != null && ctx.body().buffer() != null && error.status() != 413
                ? ctx.body().buffer().toString(StandardCharsets.UTF_8) : null;
        Http.send(ctx, family.status(error), family.body(error, body));
    }

    /** Stops the service gracefully; the running job goes back to the queue. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            httpServer.shutdown(5, TimeUnit.SECONDS).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("HTTP server did not shut down cleanly", e);
        }
        try {
            core.close();
        } catch (Exception e) {
            LOG.warn("the job queue or database did not close cleanly", e);
        }
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("Vert.x did not close cleanly", e);
        }
        try {
            engine.close();
        } catch (Exception e) {
            LOG.warn("engine did not close cleanly", e);
        }
    }
}
