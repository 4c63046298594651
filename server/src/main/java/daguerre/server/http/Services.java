package daguerre.server.http;

import daguerre.server.batch.BatchService;
import daguerre.server.batch.BatchStore;
import daguerre.server.config.RuntimeOptions;
import daguerre.server.config.ServeConfig;
import daguerre.server.config.ServiceCore;
import daguerre.server.gallery.ImageGallery;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobService;
import daguerre.server.jobs.RequestException;
import daguerre.server.styles.StyleStore;
import io.vertx.core.Vertx;

/**
 * What the route classes work with, the same on one machine and on a cluster's api node.
 *
 * @param engine the models and samplers requests are checked against (on an api node: those the workers registered)
 * @param queue the job queue (on an api node: the queue every node shares)
 * @param gallery the gallery (on an api node: the shared images folder and its index)
 * @param a1111Options the options only the A1111-compatible API reads
 * @param eventsAddress the local event-bus address this node's job events arrive on, one JSON envelope each
 * @param styles the prompt styles (on an api node: the {@code styles.csv} of the shared images folder)
 * @param core the one-process service, or null on a cluster's api node (which has no batches)
 */
record Services(Vertx vertx, ServeConfig config, ImageEngine engine, JobService queue, ImageGallery gallery,
        GenerationRequests requests, RuntimeOptions options, A1111Options a1111Options, String eventsAddress, StyleStore styles, ServiceCore core) {

    /** The one-process service's parts, its events on {@link DaguerreServer#EVENTS_ADDRESS}. */
    static Services local(Vertx vertx, ServiceCore core) {
        return new Services(vertx, core.config(), core.engine(), core.queue(), core.gallery(), core.requests(), core.options(),
                A1111Options.load(core.config().dataDir()), DaguerreServer.EVENTS_ADDRESS, core.styles(), core);
    }

    BatchStore batches() {
        return batchCore().batchStore();
    }

    BatchService batchService() {
        return batchCore().batches();
    }

    private ServiceCore batchCore() {
        if (core == null) {
            throw new RequestException(501, "not_implemented", "batches are not available on a cluster's api node yet:"
                    + " submit the lines as separate jobs (POST /api/v1/generations), or run the batch on a single-machine service",
                    null);
        }
        return core;
    }
}
