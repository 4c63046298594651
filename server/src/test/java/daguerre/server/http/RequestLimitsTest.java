package daguerre.server.http;

import static daguerre.server.http.CompatibleApisTest.assertA1111Error;
import static daguerre.server.http.CompatibleApisTest.assertOpenAiError;
import static daguerre.server.http.NativeApiTest.assertError;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every request has a bounded cost: prompt caps on every API family, checked before any costly work. */
class RequestLimitsTest {

    /** 1 MiB of prompt: far over the character cap, and under the body limit these tests set. */
    private static final String HUGE_PROMPT = "red heart, ".repeat((1 << 20) / 11 + 1).substring(0, 1 << 20);

    @TempDir
    static Path dataDir;
    static TestServer<ChunkCountingEngine> server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dataDir, new ChunkCountingEngine(new GradientTestEngine(1)), c -> c.withMaxBodyBytes(4 << 20));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @BeforeEach
    void forgetCounts() {
        server.engine.counted.clear();
    }

    @Test
    void aMegabytePromptIsRefusedOnEveryFamilyBeforeTokenizing() throws Exception {
        String prompt = TestServer.JSON.writeValueAsString(HUGE_PROMPT);
        assertError(server.post("/api/v1/generations", "{\"prompt\":" + prompt + "}"), 400, "prompt_too_long", "prompt");
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"negative_prompt\":" + prompt + "}"),
                400, "prompt_too_long", "negative_prompt");
        HttpResponse<String> a1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":" + prompt + ",\"steps\":1}");
        assertA1111Error(a1111, 422, "prompt");
        assertTrue(a1111.body().length() < 10_000, "the error does not echo the prompt");
        HttpResponse<String> openAi = server.post("/v1/images/generations", "{\"prompt\":" + prompt + "}");
        assertOpenAiError(openAi, 400, "prompt");
        assertEquals("prompt_too_long", json(openAi).at("/error/code").asText());
        assertTrue(json(openAi).at("/error/message").asText().contains("--max-prompt-chars"), openAi.body());

        JsonNode batch = json(postBatch(HUGE_PROMPT + "\n--prompt \"" + HUGE_PROMPT + "\" --steps 1\n"));
        assertEquals(2, batch.at("/counts/invalid").asInt(), batch.toString());
        for (JsonNode line : batch.get("lines")) {
            assertEquals("prompt_too_long", line.at("/error/code").asText(), batch.toString());
        }
        assertTrue(server.engine.counted.isEmpty(), "the character cap comes before the tokenizer: " + server.engine.counted);
    }

    @Test
    void promptsAreCappedInTokenizerChunks() throws Exception {
        // "red" is one CLIP token: 2,400 of them fill exactly 32 chunks of 75, one more needs a 33rd
        String fits = "red ".repeat(32 * 75).strip();
        String tooLong = fits + " red";
        assertEquals(202, server.post("/api/v1/generations", "{\"prompt\":\"" + fits + "\",\"steps\":1}").statusCode());
        HttpResponse<String> refused = server.post("/api/v1/generations", "{\"prompt\":\"" + tooLong + "\",\"steps\":1}");
        assertError(refused, 400, "prompt_too_long", "prompt");
        assertTrue(json(refused).at("/error/message").asText().contains("33 chunks"), refused.body());
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"negative_prompt\":\"" + tooLong + "\"}"), 422,
                "negative_prompt");
        assertOpenAiError(server.post("/v1/images/generations", "{\"prompt\":\"" + tooLong + "\"}"), 400, "prompt");
        JsonNode batch = json(postBatch("{\"prompt\":\"" + tooLong + "\",\"steps\":1}\n"));
        assertEquals("prompt_too_long", batch.at("/lines/0/error/code").asText(), batch.toString());
        assertTrue(server.engine.counted.contains(tooLong.length()), "chunks are counted by the engine (the model's tokenizer)");
    }

    private static HttpResponse<String> postBatch(String file) throws Exception {
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(server.uri("/api/v1/batches"))
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString(file)));
        assertEquals(202, response.statusCode(), response.body());
        return response;
    }

    /** The gradient test double, recording the length of every prompt whose chunks it counts. */
    record ChunkCountingEngine(GradientTestEngine inner, List<Integer> counted) implements ImageEngine {

        ChunkCountingEngine(GradientTestEngine inner) {
            this(inner, new CopyOnWriteArrayList<>());
        }

        @Override
        public List<ModelDescriptor> models() {
            return inner.models();
        }

        @Override
        public String defaultModelId() {
            return inner.defaultModelId();
        }

        @Override
        public List<SamplerDescriptor> samplers() {
            return inner.samplers();
        }

        @Override
        public int promptChunks(String modelId, String prompt) {
            counted.add(prompt.length());
            return inner.promptChunks(modelId, prompt);
        }

        @Override
        public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) throws Exception {
            return inner.generate(params, listener, cancelled);
        }
    }
}
