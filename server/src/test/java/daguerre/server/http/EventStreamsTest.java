package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Server-Sent Events per job and the WebSocket for all jobs. */
class EventStreamsTest {

    @TempDir
    static Path dataDir;
    static TestServer<GradientTestEngine> server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dataDir);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** One SSE event: its name and JSON data. */
    record Event(String name, JsonNode data) {}

    static List<Event> readEvents(String path) throws Exception {
        return readEvents(path, new CountDownLatch(1));
    }

    /** Reads the whole stream; {@code firstEvent} opens when the first event has arrived. */
    static List<Event> readEvents(String path, CountDownLatch firstEvent) throws Exception {
        HttpResponse<Stream<String>> response = server.client().send(HttpRequest.newBuilder(server.uri(path))
                .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, response.statusCode());
        assertTrue(response.headers().firstValue("Content-Type").orElseThrow().startsWith("text/event-stream"));
        List<Event> events = new ArrayList<>();
        String[] name = {null};
        response.body().forEach(line -> {
            if (line.startsWith("event: ")) {
                name[0] = line.substring(7);
            } else if (line.startsWith("data: ")) {
                try {
                    events.add(new Event(name[0], TestServer.JSON.readTree(line.substring(6))));
                    firstEvent.countDown();
                } catch (Exception e) {
                    throw new AssertionError(line, e);
                }
            }
        });
        return events;
    }

    @Test
    void sseStreamsQueuedProgressPreviewAndSucceeded() throws Exception {
        server.engine.hold();
        String id;
        CompletableFuture<List<Event>> events;
        try {
            String blocker = server.submit("{\"prompt\":\"first\",\"steps\":2}");
            server.awaitStatus(blocker, "running");
            id = server.submit("{\"prompt\":\"streamed\",\"steps\":6,\"seed\":7}");
            String path = "/api/v1/jobs/" + id + "/events";
            CountDownLatch connected = new CountDownLatch(1);
            events = CompletableFuture.supplyAsync(() -> {
                try {
                    return readEvents(path, connected);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(connected.await(10, TimeUnit.SECONDS));
        } finally {
            server.engine.release();
        }
        List<Event> received = events.get(20, TimeUnit.SECONDS);
        assertEquals("queued", received.get(0).name(), received.toString());
        assertEquals(1, received.get(0).data().get("position").asInt());
        assertEquals(id, received.get(0).data().get("job_id").asText());
        List<Event> progress = received.stream().filter(e -> e.name().equals("progress")).toList();
        assertEquals(6, progress.size(), received.toString());
        for (int i = 0; i < progress.size(); i++) {
            assertEquals(i + 1, progress.get(i).data().get("step").asInt());
            assertEquals(6, progress.get(i).data().get("total").asInt());
            assertTrue(progress.get(i).data().get("eta_ms").asLong() >= 0);
        }
        List<Event> previews = received.stream().filter(e -> e.name().equals("preview")).toList();
        assertEquals(1, previews.size(), "default: a preview every 5 steps, none at the last");
        assertTrue(previews.get(0).data().get("png").asText().startsWith("iVBOR"));
        Event last = received.get(received.size() - 1);
        assertEquals("succeeded", last.name());
        assertEquals(1, last.data().get("images").size());
    }

    @Test
    void sseOnAFinishedJobSendsItsFinalEventAndEnds() throws Exception {
        String id = server.submit("{\"prompt\":\"done\",\"steps\":1}");
        server.awaitStatus(id, "succeeded");
        List<Event> received = readEvents("/api/v1/jobs/" + id + "/events");
        assertEquals(1, received.size());
        assertEquals("succeeded", received.get(0).name());
    }

    @Test
    void sseIsNeverCompressed() throws Exception {
        String id = server.submit("{\"prompt\":\"plain\",\"steps\":1}");
        server.awaitStatus(id, "succeeded");
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri("/api/v1/jobs/" + id + "/events"))
                .header("Accept-Encoding", "gzip, deflate"));
        assertTrue(response.body().startsWith("event: succeeded\ndata: {"), response.body());
    }

    @Test
    void sseReportsCancellation() throws Exception {
        server.engine.hold();
        try {
            String id = server.submit("{\"prompt\":\"to cancel\",\"steps\":4}");
            server.awaitStatus(id, "running");
            CountDownLatch connected = new CountDownLatch(1);
            CompletableFuture<List<Event>> events = CompletableFuture.supplyAsync(() -> {
                try {
                    return readEvents("/api/v1/jobs/" + id + "/events", connected);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(connected.await(10, TimeUnit.SECONDS));
            assertEquals(202, server.post("/api/v1/jobs/" + id + "/cancel", "").statusCode());
            List<Event> received = events.get(20, TimeUnit.SECONDS);
            assertEquals("progress", received.get(0).name());
            assertEquals("cancelled", received.get(received.size() - 1).name());
        } finally {
            server.engine.release();
        }
    }

    @Test
    void webSocketStreamsEventsOfAllJobs() throws Exception {
        Set<String> succeeded = ConcurrentHashMap.newKeySet();
        CountDownLatch done = new CountDownLatch(2);
        CountDownLatch subscribed = new CountDownLatch(1);
        WebSocket socket = server.client().newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/api/v1/ws"), new WebSocket.Listener() {
                    private final StringBuilder text = new StringBuilder();

                    @Override
                    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                        text.append(data);
                        if (last) {
                            try {
                                JsonNode event = TestServer.JSON.readTree(text.toString());
                                if (event.get("event").asText().equals("subscribed")) {
                                    subscribed.countDown();
                                } else if (event.get("event").asText().equals("succeeded")) {
                                    succeeded.add(event.get("job_id").asText());
                                    done.countDown();
                                }
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                            text.setLength(0);
                        }
                        webSocket.request(1);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        assertTrue(subscribed.await(10, TimeUnit.SECONDS));
        String a = server.submit("{\"prompt\":\"ws one\",\"steps\":2}");
        String b = server.submit("{\"prompt\":\"ws two\",\"steps\":2}");
        assertTrue(done.await(20, TimeUnit.SECONDS), "succeeded events: " + succeeded);
        assertEquals(Set.of(a, b), succeeded);
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
    }
}
