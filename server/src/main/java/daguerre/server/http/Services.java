package daguerre.server.http;

import daguerre.server.batch.BatchStore;
import daguerre.server.config.ServeConfig;
import daguerre.server.gallery.Gallery;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobQueue;
import daguerre.server.jobs.JobStore;
import io.vertx.core.Vertx;

/** What the route classes work with. */
record Services(
        Vertx vertx,
        ServeConfig config,
        ImageEngine engine,
        JobStore jobs,
        JobQueue queue,
        Gallery gallery,
        GenerationRequests requests,
        BatchStore batches,
        RuntimeOptions options) {}
