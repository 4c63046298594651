package daguerre.server.http;

import daguerre.server.batch.BatchService;
import daguerre.server.batch.BatchStore;
import daguerre.server.config.RuntimeOptions;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceCore;
import daguerre.server.gallery.Gallery;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobQueue;
import daguerre.server.jobs.JobStore;
import daguerre.server.styles.StyleStore;
import io.vertx.core.Vertx;

/** What the route classes work with: Vert.x and the service core. */
record Services(Vertx vertx, ServiceCore core) {

    ServeConfig config() {
        return core.config();
    }

    ImageEngine engine() {
        return core.engine();
    }

    JobStore jobs() {
        return core.jobs();
    }

    JobQueue queue() {
        return core.queue();
    }

    Gallery gallery() {
        return core.gallery();
    }

    GenerationRequests requests() {
        return core.requests();
    }

    BatchStore batches() {
        return core.batchStore();
    }

    BatchService batchService() {
        return core.batches();
    }

    RuntimeOptions options() {
        return core.options();
    }

    StyleStore styles() {
        return core.styles();
    }
}
