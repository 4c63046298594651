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
    /** For a message of the form "FIELD PREDICATE": the predicate ("must be an integer"), else null. */
    private final String predicate;

    public RequestException(int status, String code, String message, String field) {
        this(status, code, message, field, null);
    }

    public RequestException(int status, String code, String message, String field, Long retryAfterSeconds) {
        this(status, code, message, field, retryAfterSeconds, null);
    }

    private RequestException(int status, String code, String message, String field, Long retryAfterSeconds, String predicate) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.field = field;
        this.retryAfterSeconds = retryAfterSeconds;
        this.predicate = predicate;
    }

    /**
     * An error about {@code field} whose message is the field's name followed by {@code predicate}
     * ({@code steps} + {@code "must be an integer"}); {@link #withField} renames the subject of such a
     * message and nothing else.
     */
    public static RequestException aboutField(int status, String code, String field, String predicate) {
        return new RequestException(status, code, field + " " + predicate, field, null, predicate);
    }

    /** 400 invalid_value for {@code field}. */
    public static RequestException invalid(String field, String message) {
        return new RequestException(400, "invalid_value", message, field);
    }

    /** 400 invalid_value for {@code field}, the message being its name and {@code predicate} (see {@link #aboutField}). */
    public static RequestException invalidField(String field, String predicate) {
        return aboutField(400, "invalid_value", field, predicate);
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

    /**
     * The same error reported against another field name (A1111 and OpenAI routes name fields their
     * own way). A message built by {@link #aboutField} gets the new name as its subject; any other
     * message is kept word for word (the field is never searched for inside the text).
     */
    public RequestException withField(String newField) {
        String message = predicate == null ? getMessage() : newField + " " + predicate;
        return new RequestException(status, code, message, newField, retryAfterSeconds, predicate);
    }
}
