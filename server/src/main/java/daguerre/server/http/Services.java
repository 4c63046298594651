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
 * @param batches the stored batches (on an api node: in the PostgreSQL database every node shares)
 * @param batchService what submits and cancels batches, over {@code queue} and {@code batches}
 */
record Services(Vertx vertx, ServeConfig config, ImageEngine engine, JobService queue, ImageGallery gallery,
        GenerationRequests requests, RuntimeOptions options, A1111Options a1111Options, String eventsAddress, StyleStore styles,
        BatchStore batches, BatchService batchService) {

    /** The one-process service's parts, its events on {@link DaguerreServer#EVENTS_ADDRESS}. */
    static Services local(Vertx vertx, ServiceCore core) {
        return new Services(vertx, core.config(), core.engine(), core.queue(), core.gallery(), core.requests(), core.options(),
                A1111Options.load(core.config().dataDir()), DaguerreServer.EVENTS_ADDRESS, core.styles(), core.batchStore(),
                core.batches());
    }
}
