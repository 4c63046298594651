/**
 * Cluster mode ({@code serve --cluster --database jdbc:postgresql://...}; see docs/cluster.md):
 * the options ({@link daguerre.server.cluster.ClusterOptions}, {@link daguerre.server.cluster.ClusterFlags}),
 * membership and messages on Vert.x's clustered event bus over Hazelcast
 * ({@link daguerre.server.cluster.ClusterMembership}), the PostgreSQL database with its versioned
 * migrations ({@link daguerre.server.cluster.PgDatabase}), the shared queue with leases
 * ({@link daguerre.server.cluster.PgJobs}), the gallery index and shared images folder
 * ({@link daguerre.server.cluster.ClusterGallery}), the models an api node validates against
 * ({@link daguerre.server.cluster.ClusterModels}) and a worker node's job runner
 * ({@link daguerre.server.cluster.ClusterWorker}). The HTTP side is
 * {@link daguerre.server.http.ClusterServer}. The single-process service on SQLite uses none of it.
 */
package daguerre.server.cluster;
