package daguerre.server.config;

import java.util.Locale;

/** How the service writes its log lines (see {@code daguerre.server.http.ServiceLog}). */
public enum LogFormat {
    /** {@code 2026-12-02T07:30:00.123Z INFO request POST /api/v1/generations 202 12ms job=...} */
    TEXT,
    /** One JSON object a line, for log shippers: {@code {"time":"...","level":"INFO","event":"request",...}} */
    JSON;

    /** {@code text} or {@code json}, in any case. */
    public static LogFormat named(String name) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "text" -> TEXT;
            case "json" -> JSON;
            default -> throw new IllegalArgumentException("log-format must be text or json, got '" + name + "'");
        };
    }
}
