package daguerre.server.http;

import daguerre.server.config.ServeConfig;
import daguerre.server.jobs.RequestException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The check in front of every route once {@code --api-key} or {@code --api-auth} is set: a
 * request needs {@code Authorization: Bearer KEY} or {@code Authorization: Basic} with
 * {@code USER:PASS} (A1111's {@code --api-auth}); event streams also take {@code ?api_key=KEY},
 * since browsers cannot set headers on them. Only {@code /healthz} and the web UI's own files
 * (the shell that asks for the key) are open. Credentials are compared by their SHA-256 digests
 * with {@link MessageDigest#isEqual}, against every configured one, so the time taken tells nothing
 * about how much of a guess was right. A refusal is 401 in the path's API family's error shape.
 */
final class Authentication implements Handler<RoutingContext> {

    /** Where the web UI's files lie on the class path (as the static handler serves them). */
    static final String WEBROOT = "webroot";

    private final List<byte[]> keyDigests;
    private final List<byte[]> credentialDigests;

    Authentication(ServeConfig config) {
        this.keyDigests = digests(config.apiKeys());
        this.credentialDigests = digests(config.apiAuth());
    }

    @Override
    public void handle(RoutingContext ctx) {
        String path = ctx.normalizedPath();
        if (path.equals("/healthz") || ctx.request().method() == HttpMethod.OPTIONS) {
            ctx.next();
            return;
        }
        Presented presented = presented(ctx);
        if (presented != null && matches(presented.digestList(), presented.value())) {
            ctx.next();
            return;
        }
        if (isWebUiFile(ctx)) {
            ctx.next();
            return;
        }
        List<String> challenges = new ArrayList<>();
        if (!keyDigests.isEmpty()) {
            challenges.add("Bearer");
        }
        if (!credentialDigests.isEmpty() && (keyDigests.isEmpty() || ApiFamily.of(path) == ApiFamily.A1111)) {
            // a Basic challenge makes browsers ask for a login themselves: with keys, the web UI asks for one instead
            challenges.add("Basic realm=\"daguerre\"");
        }
        if (!challenges.isEmpty()) {
            ctx.response().putHeader("WWW-Authenticate", String.join(", ", challenges));
        }
        ctx.fail(new RequestException(401, "unauthorized", presented == null ? "authentication is required ("
                + String.join(" or ", accepted()) + ")" : presented.kind() + " is not valid", null));
    }

    /** What the client sent: a Bearer key (header, or {@code api_key} on event streams) or Basic credentials; null for nothing. */
    private Presented presented(RoutingContext ctx) {
        String header = ctx.request().getHeader("Authorization");
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return new Presented("the API key", header.substring(7).strip(), keyDigests);
        }
        if (header != null && header.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(header.substring(6).strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                decoded = "";
            }
            return new Presented("the user name or password", decoded, credentialDigests);
        }
        String path = ctx.normalizedPath();
        String fromQuery = path.equals("/api/v1/ws") || path.endsWith("/events") ? ctx.request().getParam("api_key") : null;
        if (fromQuery != null) {
            return new Presented("the API key", fromQuery, keyDigests);
        }
        return header == null ? null : new Presented("the Authorization header", "", List.of());
    }

    private List<String> accepted() {
        List<String> accepted = new ArrayList<>();
        if (!keyDigests.isEmpty()) {
            accepted.add("Authorization: Bearer KEY");
        }
        if (!credentialDigests.isEmpty()) {
            accepted.add("Authorization: Basic with USER:PASS");
        }
        return accepted;
    }

    /** Whether {@code value}'s digest equals any of {@code digests}; looks at all of them whatever matches. */
    private static boolean matches(List<byte[]> digests, String value) {
        byte[] given = sha256(value);
        boolean ok = false;
        for (byte[] digest : digests) {
            ok |= MessageDigest.isEqual(given, digest);
        }
        return ok;
    }

    /** A GET or HEAD of the UI shell: {@code /} or a file under {@link #WEBROOT} on the class path. */
    private static boolean isWebUiFile(RoutingContext ctx) {
        HttpMethod method = ctx.request().method();
        if (method != HttpMethod.GET && method != HttpMethod.HEAD) {
            return false;
        }
        String path = ctx.normalizedPath();
        return path.equals("/")
                || !path.endsWith("/") && Authentication.class.getClassLoader().getResource(WEBROOT + path) != null;
    }

    private static List<byte[]> digests(List<String> secrets) {
        return secrets.stream().map(Authentication::sha256).toList();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /** Credentials a request carries: what they are (for the message), their value, and the digests they must match. */
    private record Presented(String kind, String value, List<byte[]> digestList) {}
}
