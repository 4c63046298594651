package daguerre.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Schema migrations and crash recovery of the job table. */
class JobStoreTest {

    @TempDir
    Path dir;

    static GenerationParams params(String prompt) {
        return new GenerationParams(prompt, "", "tiny", "euler", 3, 7.5, 0, 1, 5, 64, 64, 1, new byte[] {1, 2, 3}, 0.5, 0, null, null, 1, List.of());
    }

    @Test
    void migratesToTheLatestVersionAndReopens() throws Exception {
        Path file = dir.resolve("daguerre.db");
        try (Database database = Database.open(file)) {
            assertEquals(Database.latestVersion(), database.version());
        }
        try (Database database = Database.open(file)) {
            assertEquals(Database.latestVersion(), database.version());
        }
    }

    @Test
    void aJobLeftRunningByACrashIsRequeuedWithItsRequestIntact() throws Exception {
        Path file = dir.resolve("daguerre.db");
        try (Database database = Database.open(file)) {
            JobStore store = new JobStore(database);
            store.insert("aaaaaaaaaaaaaaaaaaaa", params("first"), 1000);
            store.insert("bbbbbbbbbbbbbbbbbbbb", params("second"), 2000);
            store.insert("cccccccccccccccccccc", params("third"), 3000);
            store.markRunning("aaaaaaaaaaaaaaaaaaaa", 1500);
            store.markFinished("cccccccccccccccccccc", JobState.SUCCEEDED, 4000, List.of("x"), null, null);
        }
        try (Database database = Database.open(file)) {
            JobStore store = new JobStore(database);
            List<JobRecord> queued = store.recoverQueued(2, 5000).queued();
            assertEquals(List.of("aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb"), queued.stream().map(JobRecord::id).toList());
            JobRecord recovered = queued.get(0);
            assertEquals(JobState.QUEUED, recovered.state());
            assertEquals(1, recovered.requeued());
            assertEquals(null, recovered.startedAt());
            assertEquals("first", recovered.params().prompt());
            assertEquals(7.5, recovered.params().guidanceScale());
            assertEquals(0.5, recovered.params().strength());
            assertTrue(java.util.Arrays.equals(new byte[] {1, 2, 3}, recovered.params().initImage()));
            assertEquals(JobState.SUCCEEDED, store.find("cccccccccccccccccccc").orElseThrow().state());
            assertEquals(List.of("x"), store.find("cccccccccccccccccccc").orElseThrow().imageIds());
        }
    }

    @Test
    void theMaskInpaintingOptionsAndHiresFixSurviveARestart() throws Exception {
        byte[] mask = {9, 8, 7, 6};
        GenerationParams.Inpaint inpaint = new GenerationParams.Inpaint(mask, 7, true, 2, true, 12);
        var hires = new daguerre.diffusion.pipeline.HiresFix(1.5, 0, 96, "Lanczos", 3, 0.45,
                daguerre.diffusion.sampling.Sampler.DDIM, "hires prompt", "hires negative");
        GenerationParams p = params("masked");
        GenerationParams masked = new GenerationParams(p.prompt(), p.negativePrompt(), p.model(), p.sampler(), p.steps(), p.guidanceScale(),
                p.guidanceRescale(), p.clipSkip(), p.seed(), p.width(), p.height(), p.n(), p.initImage(), p.strength(), p.eta(), null, null,
                1, List.of(), inpaint, null);
        GenerationParams hiresParams = new GenerationParams(p.prompt(), p.negativePrompt(), p.model(), p.sampler(), p.steps(),
                p.guidanceScale(), p.guidanceRescale(), p.clipSkip(), p.seed(), p.width(), p.height(), p.n(), null, p.strength(), p.eta(),
                null, null, 1, List.of(), null, hires);
        Path file = dir.resolve("daguerre.db");
        try (Database database = Database.open(file)) {
            JobStore store = new JobStore(database);
            store.insert("aaaaaaaaaaaaaaaaaaaa", masked, 1000);
            store.insert("bbbbbbbbbbbbbbbbbbbb", hiresParams, 2000);
        }
        try (Database database = Database.open(file)) {
            List<JobRecord> queued = new JobStore(database).recoverQueued(2, 5000).queued();
            GenerationParams.Inpaint back = queued.get(0).params().inpaint();
            assertTrue(java.util.Arrays.equals(mask, back.mask()));
            assertEquals(List.of(7, true, 2, true, 12), List.of(back.maskBlur(), back.invert(), back.fill(), back.fullRes(), back.fullResPadding()));
            assertEquals(null, queued.get(0).params().hiresFix());
            assertEquals(hires, queued.get(1).params().hiresFix());
            assertEquals(null, queued.get(1).params().inpaint());
            assertTrue(!GenerationRequests.toJson(masked).has("mask"), "the public view of the request leaves the mask bytes out");
        }
    }
}
