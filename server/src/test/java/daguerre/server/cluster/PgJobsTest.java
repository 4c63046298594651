package daguerre.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.JobState;
import daguerre.server.testing.PostgresServer;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The PostgreSQL queue on a real server: leases, expiry, exactly-once completion, model preference, migrations. */
class PgJobsTest {

    private static PostgresServer postgres;

    @BeforeAll
    static void startPostgres() throws Exception {
        Assumptions.assumeTrue(PostgresServer.binaries().isPresent(),
                "PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb); .ci/run installs Debian's postgresql package");
        postgres = PostgresServer.start();
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (postgres != null) {
            postgres.close();
        }
    }

    private static GenerationParams params(String model) {
        return GenerationRequests.fromJson(GenerationRequests.toJson(new GenerationParams("a cat", "", model, "euler", 4, 7.0, 0, 0, 1,
                64, 64, 1, null, 0.75, 0, null, null, 0, List.of())), null);
    }

    /** What a worker claims is the whole request: the mask (stored inside the request) and the LoRAs too. */
    @Test
    void aClaimedJobKeepsItsMaskAndLoras() throws Exception {
        byte[] mask = {9, 8, 7, 6};
        GenerationParams p = params("tiny");
        GenerationParams masked = new GenerationParams(p.prompt(), p.negativePrompt(), p.model(), p.sampler(), p.steps(), p.guidanceScale(),
                p.guidanceRescale(), p.clipSkip(), p.seed(), p.width(), p.height(), p.n(), new byte[] {1, 2}, p.strength(), p.eta(), null,
                null, 1, List.of(daguerre.diffusion.lora.RequestedLora.of("style", 0.5)),
                new GenerationParams.Inpaint(mask, 7, true, 2, true, 12), null);
        try (PgDatabase database = PgDatabase.open(postgres.createDatabase("masks"), PostgresServer.USER, null)) {
            PgJobs jobs = new PgJobs(database);
            jobs.insert("cccccccccccccccccccc", masked, 1);
            GenerationParams claimed = jobs.claim("w1", List.of("tiny"), null, "token", 10_000, 2).orElseThrow().record().params();
            assertTrue(java.util.Arrays.equals(mask, claimed.inpaint().mask()), "the mask was lost on the way to the worker");
            assertEquals(List.of(7, true, 2, true, 12), List.of(claimed.inpaint().maskBlur(), claimed.inpaint().invert(),
                    claimed.inpaint().fill(), claimed.inpaint().fullRes(), claimed.inpaint().fullResPadding()));
            assertEquals(masked.loras(), claimed.loras());
        }
    }

    @Test
    void aLateResultFromAWorkerThatLostItsLeaseIsDiscarded() throws Exception {
        String url = postgres.createDatabase("leases");
        try (PgDatabase database = PgDatabase.open(url, PostgresServer.USER, null)) {
            assertEquals(PgDatabase.latestVersion(), database.version());
            PgJobs jobs = new PgJobs(database);
            jobs.insert("aaaaaaaaaaaaaaaaaaaa", params("tiny"), 1);
            PgJobs.ClusterJob first = jobs.claim("w1", List.of("tiny"), null, "token-1", 1, 2).orElseThrow();
            assertEquals("w1", first.worker());
            assertTrue(jobs.claim("w2", List.of("tiny"), null, "token-2", 10_000, 3).isEmpty(), "a claimed job is not claimed twice");
            Thread.sleep(20); // the 1 ms lease expires
            PgJobs.Expired expired = jobs.requeueExpired(3, 4);
            assertEquals(List.of("aaaaaaaaaaaaaaaaaaaa"), expired.requeued());
            assertEquals(PgJobs.Renewal.LOST, jobs.renew("aaaaaaaaaaaaaaaaaaaa", "token-1", 2, 10_000));
            PgJobs.ClusterJob second = jobs.claim("w2", List.of("tiny"), null, "token-2", 10_000, 5).orElseThrow();
            assertEquals(1, second.record().requeued());
            assertEquals(PgJobs.Renewal.HELD, jobs.renew("aaaaaaaaaaaaaaaaaaaa", "token-2", 2, 10_000));

            boolean[] lateRan = {false};
            assertFalse(jobs.complete("aaaaaaaaaaaaaaaaaaaa", "token-1", JobState.SUCCEEDED, 6, List.of("late"), null, null,
                    c -> lateRan[0] = true), "the first worker's result comes too late");
            assertFalse(lateRan[0], "nothing of a late result is written");
            assertTrue(jobs.complete("aaaaaaaaaaaaaaaaaaaa", "token-2", JobState.SUCCEEDED, 7, List.of("img"), null, null, c -> {}));
            assertFalse(jobs.complete("aaaaaaaaaaaaaaaaaaaa", "token-2", JobState.SUCCEEDED, 8, List.of("again"), null, null, c -> {}),
                    "a job completes once");
            PgJobs.ClusterJob done = jobs.find("aaaaaaaaaaaaaaaaaaaa").orElseThrow();
            assertEquals(JobState.SUCCEEDED, done.record().state());
            assertEquals(List.of("img"), done.record().imageIds());
            assertEquals("w2", done.worker());
        }
        // a second open finds the schema current and migrates nothing
        try (PgDatabase again = PgDatabase.open(url, PostgresServer.USER, null)) {
            assertEquals(PgDatabase.latestVersion(), again.version());
        }
    }

    @Test
    void workersTakeOnlyTheirModelsPreferTheLoadedOneAndCancelsReachRunningJobs() throws Exception {
        String url = postgres.createDatabase("models");
        try (PgDatabase database = PgDatabase.open(url, PostgresServer.USER, null)) {
            PgJobs jobs = new PgJobs(database);
            jobs.insert("bbbbbbbbbbbbbbbbbbb1", params("other"), 1);
            jobs.insert("bbbbbbbbbbbbbbbbbbb2", params("tiny"), 2);
            jobs.insert("bbbbbbbbbbbbbbbbbbb3", params("big"), 3);
            assertTrue(jobs.claim("w", List.of("nothing"), null, "t0", 10_000, 4).isEmpty(), "no job for a model the worker lacks");
            assertEquals("bbbbbbbbbbbbbbbbbbb3", jobs.claim("w", List.of("tiny", "big"), "big", "t1", 10_000, 4).orElseThrow().id(),
                    "the loaded model's job first, though younger");
            assertEquals("bbbbbbbbbbbbbbbbbbb2", jobs.claim("w", List.of("tiny", "big"), "big", "t2", 10_000, 4).orElseThrow().id());
            assertEquals(1, jobs.position("bbbbbbbbbbbbbbbbbbb1"), "the job for a model no worker serves waits");

            assertEquals(Optional.of(JobState.RUNNING), jobs.cancel("bbbbbbbbbbbbbbbbbbb2", 5));
            assertEquals(PgJobs.Renewal.CANCEL_REQUESTED, jobs.renew("bbbbbbbbbbbbbbbbbbb2", "t2", 1, 10_000));
            assertEquals(Optional.of(JobState.CANCELLED), jobs.cancel("bbbbbbbbbbbbbbbbbbb1", 5));
            assertEquals(Optional.empty(), jobs.cancel("cccccccccccccccccccc", 5));

            // a running job whose cancel its worker never saw (the worker died) ends cancelled, not re-queued
            jobs.insert("bbbbbbbbbbbbbbbbbbb4", params("tiny"), 6);
            jobs.claim("w", List.of("tiny"), null, "t4", 1, 7).orElseThrow();
            assertEquals(Optional.of(JobState.RUNNING), jobs.cancel("bbbbbbbbbbbbbbbbbbb4", 8));
            Thread.sleep(20);
            PgJobs.Expired expired = jobs.requeueExpired(3, 9);
            assertEquals(List.of("bbbbbbbbbbbbbbbbbbb4"), expired.cancelled());
            assertTrue(expired.requeued().isEmpty(), expired.toString());
            assertEquals(JobState.CANCELLED, jobs.find("bbbbbbbbbbbbbbbbbbb4").orElseThrow().record().state());
        }
    }
}
