package daguerre.server.config;

import daguerre.server.batch.BatchService;
import daguerre.server.batch.BatchStore;
import daguerre.server.gallery.Gallery;
import daguerre.server.jobs.Database;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobEvents;
import daguerre.server.jobs.JobQueue;
import daguerre.server.jobs.JobStore;
import daguerre.server.jobs.Worker;
import daguerre.server.styles.StyleStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The service without HTTP: the data directory (locked against a second process), its database,
 * the job queue restored from it, the gallery, batches, and the worker. {@code serve} puts HTTP
 * routes in front of it; {@code batch} feeds it a prompt file.
 */
public final class ServiceCore implements AutoCloseable {

    private final ServeConfig config;
    private final ImageEngine engine;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Database database;
    private final JobStore jobs;
    private final JobQueue queue;
    private final Gallery gallery;
    private final RuntimeOptions options;
    private final GenerationRequests requests;
    private final BatchStore batchStore;
    private final BatchService batches;
    private final StyleStore styles;
    private final List<Worker> workers = new ArrayList<>();
    private final int restored;

    private ServiceCore(ServeConfig config, ImageEngine engine, JobEvents events, FileChannel lockChannel, FileLock lock,
            Database database) throws SQLException, IOException {
        this.config = config;
        this.engine = engine;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.database = database;
        this.jobs = new JobStore(database);
        this.queue = new JobQueue(jobs, events, config.limits(), config.dataDir(), config.minFreeDiskBytes());
        this.restored = queue.restore();
        this.gallery = new Gallery(database, config.dataDir());
        this.options = new RuntimeOptions(SettingsStore.of(database), engine);
        this.requests = new GenerationRequests(engine, config.limits(), this::defaultModel);
        this.batchStore = BatchStore.sqlite(database);
        this.batches = new BatchService(engine, requests, queue, batchStore);
        this.styles = new StyleStore(config.dataDir());
        for (int i = 0; i < engine.concurrentJobs(); i++) {
            workers.add(new Worker(queue, engine, this::saveImages, config.previewEvery(), "daguerre-worker-" + i));
        }
    }

    /** Another process (a running server, another batch) holds the data directory. */
    public static final class DataDirectoryInUseException extends IOException {

        DataDirectoryInUseException(Path dataDir) {
            super("the data directory " + dataDir.toAbsolutePath() + " is in use by another Daguerre process");
        }
    }

    /**
     * Opens the data directory of {@code config}; call {@link #startWorker()} to begin running jobs.
     *
     * @throws IOException also when another process holds the data directory
     */
    public static ServiceCore open(ServeConfig config, ImageEngine engine, JobEvents events) throws IOException, SQLException {
        Files.createDirectories(config.dataDir());
        FileChannel channel = FileChannel.open(config.dataDir().resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by this process already
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new DataDirectoryInUseException(config.dataDir());
        }
        Database database = null;
        try {
            database = Database.open(config.dataDir().resolve("daguerre.db"));
            return new ServiceCore(config, engine, events, channel, lock, database);
        } catch (IOException | SQLException | RuntimeException e) {
            if (database != null) {
                database.close();
            }
            lock.release();
            channel.close();
            throw e;
        }
    }

    /** Starts the worker threads. */
    public void startWorker() {
        workers.forEach(Worker::start);
    }

    private String defaultModel() {
        try {
            return options.defaultModel();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the default model setting: " + e.getMessage(), e);
        }
    }

    private List<String> saveImages(String jobId, daguerre.server.jobs.GenerationParams params, EngineResult result)
            throws IOException, SQLException {
        String request = GenerationRequests.toJson(params).put("job_id", jobId).toString();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < result.images().size(); i++) {
            ids.add(gallery.store(jobId, i, params, request, result.images().get(i)));
        }
        return ids;
    }

    public ServeConfig config() {
        return config;
    }

    public ImageEngine engine() {
        return engine;
    }

    public JobStore jobs() {
        return jobs;
    }

    public JobQueue queue() {
        return queue;
    }

    public Gallery gallery() {
        return gallery;
    }

    public RuntimeOptions options() {
        return options;
    }

    public GenerationRequests requests() {
        return requests;
    }

    public BatchStore batchStore() {
        return batchStore;
    }

    public BatchService batches() {
        return batches;
    }

    /** The prompt styles ({@code styles.csv} of the data directory). */
    public StyleStore styles() {
        return styles;
    }

    /** How many jobs {@link #open} put back in the queue from the last run. */
    public int restoredJobs() {
        return restored;
    }

    /** Stops the worker (the running job goes back to the queue) and closes the database; the engine stays open. */
    @Override
    public void close() throws SQLException, IOException {
        try {
            for (Worker worker : workers) {
                worker.stop(config.shutdownGraceMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            database.close();
            lock.release();
            lockChannel.close();
        }
    }
}
