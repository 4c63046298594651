package daguerre.server.http;

import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestModelCards;
import daguerre.server.testing.TestServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with a card (the test double's "tiny", in the default model's form) runs prompts outside
 * its vocabulary and caption form, and every API family says so; the model lists show the card.
 */
class PromptWarningsTest {

    private static final String STRANGER = "a rocket ship";

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

    @Test
    void theNativeApiWarnsAtSubmitAndListsTheCard() throws Exception {
        JsonNode stranger = json(server.post("/api/v1/generations", "{\"prompt\":\"" + STRANGER + "\",\"steps\":1}"));
        assertStrangerWarnings(stranger.get("warnings"));
        server.awaitStatus(stranger.get("id").asText(), "succeeded");
        JsonNode known = json(server.post("/api/v1/generations", "{\"prompt\":\"" + TestModelCards.EXAMPLES.get(0) + "\",\"steps\":1}"));
        assertEquals(0, known.get("warnings").size(), known.toString());

        JsonNode models = json(server.get("/api/v1/models")).get("items");
        assertEquals(TestModelCards.GRAMMAR, models.at("/0/prompts/grammar").asText());
        assertEquals(TestModelCards.EXAMPLES.get(1), models.at("/0/prompts/examples/1").asText());
        assertTrue(models.get(1).path("prompts").isMissingNode(), "a model without a card lists no prompts");
    }

    @Test
    void a1111InfoCarriesTheWarnings() throws Exception {
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"" + STRANGER + "\",\"steps\":1}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode info = TestServer.JSON.readTree(json(response).get("info").asText());
        assertStrangerWarnings(info.get("warnings"));
    }

    @Test
    void openAiResponsesCarryTheWarnings() throws Exception {
        HttpResponse<String> response = server.post("/v1/images/generations", "{\"prompt\":\"" + STRANGER + "\",\"steps\":1}");
        assertEquals(200, response.statusCode(), response.body());
        assertStrangerWarnings(json(response).get("warnings"));
    }

    private static void assertStrangerWarnings(JsonNode warnings) {
        assertEquals(2, warnings.size(), warnings.toString());
        assertEquals("tiny does not know the words 'rocket', 'ship': they will have little or no effect", warnings.get(0).asText());
        assertTrue(warnings.get(1).asText().contains(TestModelCards.GRAMMAR), warnings.toString());
    }
}
