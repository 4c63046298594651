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
 * for log shippers). Client errors are just requests with a 4xx status here: no stack traces, and at
 * most {@value #CLIENT_ERROR_LINES_PER_SECOND} such lines a second.
 */
public final class ServiceLog {

    /** The routing-context key under which a handler records the job a request is about. */
    static final String JOB_ID = "daguerre.job_id";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** At most this many request lines with a 4xx status a second. */
    static final int CLIENT_ERROR_LINES_PER_SECOND = 20;

    private final LogFormat format;
    private final PrintStream out;
    private final Clock clock;
    private long clientErrorSecond = Long.MIN_VALUE;
    private int clientErrorLines;
    private long suppressedClientErrorLines;

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

    /**
     * One request. Lines for client errors (4xx) are rate-limited to {@value #CLIENT_ERROR_LINES_PER_SECOND}
     * a second, so that a flood of bad requests cannot flood the log; the first line of a later
     * second is preceded by one that says how many were left out.
     */
    public void request(String method, String route, int status, long millis, String jobId) {
        long suppressed = startSecond();
        if (suppressed > 0) {
            reportSuppressed(suppressed);
        }
        if (status >= 400 && status < 500 && !clientErrorLineAllowed()) {
            return;
        }
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

    /**
     * On the first line of a new second: resets the second's count and returns how many client-error
     * lines were left out before it (at most one report a second); else 0.
     */
    private synchronized long startSecond() {
        long second = clock.millis() / 1000;
        if (second == clientErrorSecond) {
            return 0;
        }
        clientErrorSecond = second;
        clientErrorLines = 0;
        long suppressed = suppressedClientErrorLines;
        suppressedClientErrorLines = 0;
        return suppressed;
    }

    /** Whether this second has room for one more client-error line; counts the line as suppressed if not. */
    private synchronized boolean clientErrorLineAllowed() {
        if (clientErrorLines >= CLIENT_ERROR_LINES_PER_SECOND) {
            suppressedClientErrorLines++;
            return false;
        }
        clientErrorLines++;
        return true;
    }

    private void reportSuppressed(long suppressed) {
        if (format == LogFormat.JSON) {
            write(start("suppressed").put("client_error_lines", suppressed).toString());
        } else {
            write(prefix() + "suppressed " + suppressed + " client-error request lines (over " + CLIENT_ERROR_LINES_PER_SECOND + " a second)");
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
