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
}
