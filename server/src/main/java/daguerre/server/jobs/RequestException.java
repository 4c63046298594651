package daguerre.server.jobs;

/**
 * A request the service refuses, with the HTTP status, a stable machine-readable code, a
 * message for people and the offending field (null when no single field is at fault).
 * The HTTP layer renders it in each API family's own error shape.
 */
public final class RequestException extends RuntimeException {

    private final int status;
    private final String code;
    private final String field;
    private final Long retryAfterSeconds;

    public RequestException(int status, String code, String message, String field) {
        this(status, code, message, field, null);
    }

    public RequestException(int status, String code, String message, String field, Long retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.field = field;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400 invalid_value for {@code field}. */
    public static RequestException invalid(String field, String message) {
        return new RequestException(400, "invalid_value", message, field);
    }

    /** 404 not_found. */
    public static RequestException notFound(String what) {
        return new RequestException(404, "not_found", what + " not found", null);
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    /** The offending request field, or null. */
    public String field() {
        return field;
    }

    /** Seconds a client should wait before retrying (429), or null. */
    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The same error reported against another field name (A1111 and OpenAI routes name fields their own way). */
    public RequestException withField(String newField) {
        return new RequestException(status, code, getMessage().replace(field == null ? "\0" : field, newField), newField, retryAfterSeconds);
    }
}
