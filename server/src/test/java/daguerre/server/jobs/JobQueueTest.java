package daguerre.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The queue on its own: order, positions, ETAs, per-model taking, limits, completion. */
class JobQueueTest {

    @TempDir
    Path dir;
    Database database;
    JobQueue queue;
    List<String> events = new ArrayList<>();

    @BeforeEach
    void open() throws Exception {
        database = Database.open(dir.resolve("daguerre.db"));
        queue = new JobQueue(new JobStore(database), (id, event, data) -> events.add(event + " " + data), new Limits(512, 512, 50, 4, 3),
                dir, 0);
    }

    @AfterEach
    void close() throws Exception {
        database.close();
    }

    static GenerationParams params(String model, int steps) {
        return new GenerationParams("p", "", model, "euler", steps, 7, 0, 1, 1, 512, 512, 1, null, 0.75, 0, null, null, 1, List.of());
    }

    @Test
    void positionsAndEtasFollowTheMeasuredSpeed() throws Exception {
        ActiveJob first = queue.submit(params("a", 10));
        ActiveJob second = queue.submit(params("a", 10));
        assertEquals(1, queue.position(first.id()));
        assertEquals(2, queue.position(second.id()));
        assertNull(queue.etaMs(second.id()), "no estimate before any step was measured");
        ActiveJob running = queue.take();
        assertEquals(first.id(), running.id());
        assertEquals(0, queue.position(first.id()));
        assertEquals(1, queue.position(second.id()));
        queue.stepDone(running, 1, 10, 100);
        assertEquals(900, queue.etaMs(first.id()));
        assertEquals(900 + 1000, queue.etaMs(second.id()));
        assertTrue(events.stream().anyMatch(e -> e.startsWith("progress {\"step\":1,\"total\":10,\"eta_ms\":900}")), events.toString());
        queue.finish(running, JobState.SUCCEEDED, List.of("img"), null, null);
        assertEquals(JobState.SUCCEEDED, queue.completion(first.id()).get(1, TimeUnit.SECONDS).state());
        assertEquals(-1, queue.position(first.id()));
    }

    private static GenerationParams sized(int size, int steps) {
        return new GenerationParams("p", "", "a", "euler", steps, 7, 0, 1, 1, size, size, 1, null, 0.75, 0, null, null, 1, List.of());
    }

    @Test
    void etasFollowEachJobsOwnSpeedAndItsShapesNotOnePerPixelRate() throws Exception {
        // a small job first: 100 ms a step at 64x64, where fixed costs per step dominate
        queue.submit(sized(64, 10));
        ActiveJob small = queue.take();
        queue.stepDone(small, 1, 10, 100);
        queue.finish(small, JobState.SUCCEEDED, List.of("img"), null, null);

        ActiveJob large = queue.submit(sized(512, 30));
        ActiveJob queuedSmall = queue.submit(sized(64, 10));
        assertEquals(large.id(), queue.take().id());
        assertEquals(30 * 6400 + 10 * 100, queue.etaMs(queuedSmall.id()), "before its first step: the area-scaled estimate");
        queue.stepDone(large, 1, 30, 2000);
        assertEquals(29 * 2000, queue.etaMs(large.id()), "a running job's time left comes from its own steps");
        assertEquals(29 * 2000 + 10 * 100, queue.etaMs(queuedSmall.id()), "a queued job's from the steps of its shape");
        queue.stepDone(large, 2, 30, 3000);
        assertEquals(28 * 2200, queue.etaMs(large.id()), "smoothed: 2000 + 0.2 x (3000 - 2000)");
    }

    @Test
    void aBatchingWorkerTakesOnlyMatchingJobs() throws Exception {
        ActiveJob forA = queue.submit(params("a", 1));
        ActiveJob forB = queue.submit(params("b", 1));
        assertEquals(forB.id(), queue.takeMatching(p -> p.model().equals("b")).orElseThrow().id());
        assertTrue(queue.takeMatching(p -> p.model().equals("b")).isEmpty());
        assertEquals(forA.id(), queue.take().id(), "take hands out the oldest");
        queue.submit(params("a", 1));
        assertEquals("a", queue.takeMatching(p -> p.steps() == 1).orElseThrow().params().model());
    }

    @Test
    void fullQueueRefusesWholeBatchesAndClosedQueueRefusesAll() {
        queue.submit(params("a", 1));
        RequestException full = assertThrows(RequestException.class,
                () -> queue.submitAll(List.of(params("a", 1), params("a", 1), params("a", 1))));
        assertEquals(429, full.status());
        assertTrue(full.retryAfterSeconds() >= 1);
        assertEquals(1, queue.depth(), "all or none");
        queue.close();
        assertEquals(503, assertThrows(RequestException.class, () -> queue.submit(params("a", 1))).status());
    }

    @Test
    void requeuedJobGoesBackToTheHead() throws Exception {
        ActiveJob first = queue.submit(params("a", 1));
        ActiveJob second = queue.submit(params("a", 1));
        queue.requeue(queue.take());
        assertEquals(1, queue.position(first.id()));
        assertEquals(2, queue.position(second.id()));
        assertEquals(1, queue.find(first.id()).orElseThrow().requeued());
    }

    /**
     * While SQLite is held by another writer (here a second connection's EXCLUSIVE transaction),
     * a submit and a finish wait on the database, but the readers the event loop calls (depth,
     * active jobs, positions, ETAs, stats: /readyz, A1111 progress, an event stream's snapshot)
     * answer at once.
     */
    @Test
    void readersDoNotWaitOnADatabaseWrite() throws Exception {
        ActiveJob running = queue.submit(params("a", 10));
        queue.take();
        queue.stepDone(running, 1, 10, 100);
        ActiveJob waiting = queue.submit(params("a", 10));
        try (java.sql.Connection other = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("daguerre.db"));
                java.sql.Statement statement = other.createStatement()) {
            statement.execute("BEGIN EXCLUSIVE");
            java.util.concurrent.CompletableFuture<ActiveJob> submit =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> queue.submit(params("a", 10)));
            java.util.concurrent.CompletableFuture<Void> finish = java.util.concurrent.CompletableFuture.runAsync(
                    () -> queue.finish(running, JobState.SUCCEEDED, List.of("img"), null, null));
            Thread.sleep(300);   // both writers are now inside their database call
            assertTrue(!submit.isDone() && !finish.isDone(), "the writers wait for the database");
            long start = System.nanoTime();
            assertEquals(1, queue.depth());
            assertEquals(2, queue.active().size());
            assertEquals(1, queue.position(waiting.id()));
            assertEquals(900 + 1000, queue.etaMs(waiting.id()));
            assertEquals(1, queue.stats().running());
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 1_000, "readers took " + millis + " ms while SQLite was locked");
            statement.execute("COMMIT");
            ActiveJob third = submit.get(5, TimeUnit.SECONDS);
            finish.get(5, TimeUnit.SECONDS);
            assertEquals(2, queue.position(third.id()));
            assertEquals(JobState.SUCCEEDED, queue.completion(running.id()).get(1, TimeUnit.SECONDS).state());
        }
    }

    @Test
    void aJobInterruptedByRestartsTooOftenFailsAndNeverRunsAgain() throws Exception {
        ActiveJob poison = queue.submit(params("a", 1));
        ActiveJob polite = queue.submit(params("a", 1));
        queue.requeue(queue.take()); // a clean shutdown re-queues the running job: that is no strike
        assertEquals(poison.id(), queue.take().id());
        assertEquals(2, crashAndRestart(), "first crash: the running job is queued again, with the other");
        assertEquals(JobState.QUEUED, queue.find(poison.id()).orElseThrow().state());
        assertEquals(poison.id(), queue.take().id(), "it runs again, first in line");

        assertEquals(1, crashAndRestart(), "second crash while it runs: only the other job is left");
        JobRecord failed = queue.find(poison.id()).orElseThrow();
        assertEquals(JobState.FAILED, failed.state());
        assertEquals(JobStore.INTERRUPTED, failed.errorCode());
        assertEquals("interrupted by 2 restarts; not run again", failed.errorMessage());
        assertTrue(events.stream().anyMatch(e -> e.startsWith("failed ") && e.contains("interrupted by 2 restarts")), events.toString());
        assertEquals(polite.id(), queue.take().id());
        assertTrue(queue.takeMatching(p -> true).isEmpty(), "the failed job is never handed out again");
        assertEquals(1, crashAndRestart(), "the other job, interrupted once, is queued again");
        assertEquals(JobState.QUEUED, queue.find(polite.id()).orElseThrow().state());
        assertEquals(JobState.FAILED, queue.find(poison.id()).orElseThrow().state());
    }

    @Test
    void aDatabaseWithoutTheRestartColumnGainsIt() throws Exception {
        ActiveJob job = queue.submit(params("a", 1));
        queue.take();
        try (var statement = database.call(c -> c.createStatement())) {
            statement.execute("ALTER TABLE jobs DROP COLUMN crash_restarts"); // as the tables were before it existed
        }
        assertEquals(1, crashAndRestart());
        assertEquals(JobState.QUEUED, queue.find(job.id()).orElseThrow().state());
        queue.take();
        crashAndRestart();
        assertEquals(JobState.FAILED, queue.find(job.id()).orElseThrow().state());
    }

    /** Closes the database as a crash would leave it (running jobs still marked running), reopens it and restores a new queue. */
    private int crashAndRestart() throws Exception {
        database.close();
        database = Database.open(dir.resolve("daguerre.db"));
        queue = new JobQueue(new JobStore(database), (id, event, data) -> events.add(event + " " + data), new Limits(512, 512, 50, 4, 3),
                dir, 0);
        return queue.restore();
    }
}
