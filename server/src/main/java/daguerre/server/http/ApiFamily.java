package daguerre.server.http;

import daguerre.server.jobs.RequestException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The API families the service speaks, each with its own error body, chosen by path prefix. */
enum ApiFamily {
    /** {@code {"error":{"code","message","field"}}}. */
    NATIVE,
    /** {@code {"error","detail","body","errors"}}, as A1111's API middleware writes; schema errors are 422. */
    A1111,
    /** {@code {"error":{"message","type","param","code"}}}. */
    OPENAI;

    private static final ObjectMapper JSON = new ObjectMapper();

    static ApiFamily of(String path) {
        if (path.startsWith("/sdapi/") || path.startsWith("/internal/")) {
            return A1111;
        }
        if (path.startsWith("/v1/")) {
            return OPENAI;
        }
        return NATIVE;
    }

    /** The HTTP status this family uses for the error. */
    int status(RequestException e) {
        return this == A1111 && e.status() == 400 ? 422 : e.status();
    }

    /** The error body in this family's shape. */
    ObjectNode body(RequestException e, String requestBody) {
        ObjectNode body = JSON.createObjectNode();
        switch (this) {
            case NATIVE -> {
                ObjectNode error = body.putObject("error").put("code", e.code()).put("message", e.getMessage());
                if (e.field() == null) {
                    error.putNull("field");
                } else {
                    error.put("field", e.field());
                }
            }
            case A1111 -> {
                body.put("error", e.status() == 400 ? "RequestValidationError" : "HTTPException");
                body.put("detail", e.getMessage());
                body.put("body", requestBody == null ? "" : abbreviate(requestBody));
                body.put("errors", (e.field() == null ? "" : e.field() + ": ") + e.getMessage());
            }
            case OPENAI -> {
                ObjectNode error = body.putObject("error").put("message", e.getMessage());
                error.put("type", e.status() >= 500 ? "server_error" : "invalid_request_error");
                if (e.field() == null) {
                    error.putNull("param");
                } else {
                    error.put("param", e.field());
                }
                error.put("code", e.code());
            }
            default -> throw new IllegalStateException();
        }
        return body;
    }

    private static String abbreviate(String text) {
        return text.length() <= 1000 ? text : text.substring(0, 1000) + "...";
    }
}
