package daguerre.server.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where job events go: {@code queued} {position, eta_ms}, {@code running}, {@code progress}
 * {step, total, eta_ms}, {@code preview} {step, png}, {@code succeeded} {images},
 * {@code failed} {error}, {@code cancelled}. The HTTP layer publishes them on the Vert.x event bus.
 */
@FunctionalInterface
public interface JobEvents {

    /** Publishes one event; called from any thread, must not block. */
    void publish(String jobId, String event, ObjectNode data);
}
