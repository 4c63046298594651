package daguerre.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.config.LogFormat;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.RoutingContext;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Instant;

/**
 * The operator's log: one line per HTTP request (method, route, status, milliseconds, job id) and
 * one per job state change, at INFO, on standard output, as text or as JSON (one object a line,
 * for log shippers). Client errors are just requests with a 4xx status here: no stack traces.
 */
public final class ServiceLog {

    /** The routing-context key under which a handler records the job a request is about. */
    static final String JOB_ID = "daguerre.job_id";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final LogFormat format;
    private final PrintStream out;
    private final Clock clock;

    public ServiceLog(LogFormat format, PrintStream out, Clock clock) {
        this.format = format;
        this.out = out;
        this.clock = clock;
    }

    /** A route handler that logs each request when its response has been sent. */
    void handle(RoutingContext ctx) {
        long start = System.nanoTime();
        ctx.addEndHandler(done -> request(ctx.request().method().name(), route(ctx), ctx.response().getStatusCode(),
                (System.nanoTime() - start) / 1_000_000, jobId(ctx)));
        ctx.next();
    }

    /** One request. */
    public void request(String method, String route, int status, long millis, String jobId) {
        if (format == LogFormat.JSON) {
            ObjectNode line = start("request").put("method", method).put("route", route).put("status", status).put("ms", millis);
            if (jobId != null) {
                line.put("job_id", jobId);
            }
            write(line.toString());
        } else {
            write(prefix() + "request " + method + " " + route + " " + status + " " + millis + "ms" + (jobId == null ? "" : " job=" + jobId));
        }
    }

    /** A job entering {@code state} ({@code queued}, {@code running}, {@code succeeded}, ...). */
    public void job(String jobId, String state) {
        if (format == LogFormat.JSON) {
            write(start("job").put("job_id", jobId).put("state", state).toString());
        } else {
            write(prefix() + "job " + jobId + " " + state);
        }
    }

    /** The route's template ({@code /api/v1/jobs/:id}); the path itself when no route matched (404s). */
    private static String route(RoutingContext ctx) {
        Route route = ctx.currentRoute();
        String template = route == null ? null : route.getPath();
        return template == null || template.endsWith("*") ? printable(ctx.normalizedPath()) : template;
    }

    /** A client-chosen text made safe for a log line: control characters replaced, at most 200 characters. */
    static String printable(String text) {
        String clean = text.replaceAll("\\p{Cntrl}", "?");
        return clean.length() <= 200 ? clean : clean.substring(0, 200) + "...";
    }

    private static String jobId(RoutingContext ctx) {
        String recorded = ctx.get(JOB_ID);
        return recorded != null ? recorded : ctx.pathParam("id") != null && ctx.normalizedPath().startsWith("/api/v1/jobs/")
                ? ctx.pathParam("id") : null;
    }

    private ObjectNode start(String event) {
        return JSON.createObjectNode().put("time", Instant.now(clock).toString()).put("level", "INFO").put("event", event);
    }

    private String prefix() {
        return Instant.now(clock) + " INFO ";
    }

    private void write(String line) {
        synchronized (out) {
            out.println(line);
            out.flush();
        }
    }
}
