package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A synchronous generation (A1111, OpenAI) whose client hangs up before the answer cancels its
 * job, unless a client watches the job through the native API. The engine holds every job after
 * its first step, so the job is running when the client leaves.
 */
class ClientDisconnectTest {

    @TempDir
    Path dataDir;
    GradientTestEngine engine;
    TestServer<GradientTestEngine> server;

    @BeforeEach
    void start() throws Exception {
        engine = new GradientTestEngine(1);
        engine.hold();
        server = TestServer.start(dataDir, engine, c -> c);
    }

    @AfterEach
    void stop() {
        engine.release();
        server.close();
    }

    /** Sends a POST on a raw connection, waits until its job runs, and returns the open socket and the job id. */
    private record Pending(Socket socket, String jobId) {}

    private Pending postAndAwaitRunning(String path, String body) throws Exception {
        Socket socket = new Socket("127.0.0.1", server.port());
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.flush();
        // the job list shows the job without watching it (only its own status or events do)
        JsonNode running = awaitJobList(jobs -> jobs.path("items").size() == 1
                && jobs.path("items").get(0).path("progress").path("step").asInt() == 1);
        return new Pending(socket, running.path("items").get(0).path("id").asText());
    }

    private JsonNode awaitJobList(java.util.function.Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode jobs = null;
        while (System.nanoTime() < deadline) {
            jobs = TestServer.json(server.get("/api/v1/jobs"));
            if (condition.test(jobs)) {
                return jobs;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the job list never reached the expected state: " + jobs);
    }

    private String finishedStatus(String jobId) throws Exception {
        JsonNode jobs = awaitJobList(list -> list.path("recent").size() > 0 && list.path("recent").get(0).path("id").asText().equals(jobId));
        return jobs.path("recent").get(0).path("status").asText();
    }

    @Test
    void anOpenAiClientThatHangsUpCancelsItsJob() throws Exception {
        Pending pending = postAndAwaitRunning("/v1/images/generations", "{\"prompt\":\"a cat\",\"size\":\"64x64\"}");
        pending.socket().close();
        assertEquals("cancelled", finishedStatus(pending.jobId()));
    }

    @Test
    void anA1111ClientThatHangsUpCancelsItsJobAndItsRemainingBatches() throws Exception {
        Pending pending = postAndAwaitRunning("/sdapi/v1/txt2img", "{\"prompt\":\"a cat\",\"width\":64,\"height\":64,\"steps\":4,\"n_iter\":3}");
        pending.socket().close();
        assertEquals("cancelled", finishedStatus(pending.jobId()));
        Thread.sleep(200);
        assertEquals(0, TestServer.json(server.get("/api/v1/jobs")).path("items").size(), "no later n_iter batch was queued");
        assertEquals(1, engine.started());
    }

    @Test
    void aJobWatchedThroughTheNativeApiOutlivesItsSynchronousClient() throws Exception {
        Pending pending = postAndAwaitRunning("/v1/images/generations", "{\"prompt\":\"a cat\",\"size\":\"64x64\"}");
        assertEquals(200, server.get("/api/v1/jobs/" + pending.jobId()).statusCode());
        pending.socket().close();
        Thread.sleep(300);
        assertEquals("running", TestServer.json(server.get("/api/v1/jobs/" + pending.jobId())).path("status").asText());
        engine.release();
        server.awaitStatus(pending.jobId(), "succeeded");
    }

    @Test
    void aClientThatWaitsGetsItsAnswer() throws Exception {
        engine.release();
        assertEquals(200, server.post("/v1/images/generations", "{\"prompt\":\"a cat\",\"size\":\"64x64\"}").statusCode());
    }
}
