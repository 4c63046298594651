package daguerre.server.http;

import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The A1111-compatible and OpenAI-compatible routes, with their field names, defaults and error shapes. */
class CompatibleApisTest {

    @TempDir
    static Path dataDir;
    static TestServer<GradientTestEngine> server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dataDir, new GradientTestEngine(2), c -> c.withPreviewEvery(1));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void txt2imgReturnsBase64PngsParametersAndInfo() throws Exception {
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a castle\",\"negative_prompt\":\"fog\","
                + "\"seed\":100,\"steps\":3,\"cfg_scale\":5.5,\"width\":68,\"height\":64,\"sampler_name\":\"DPM++ 2M\","
                + "\"scheduler\":\"Karras\",\"batch_size\":2,\"n_iter\":1,\"restore_faces\":false}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode body = json(response);
        assertEquals(2, body.get("images").size());
        byte[] png = Base64.getDecoder().decode(body.get("images").get(0).asText());
        assertTrue(PngText.read(png).get("parameters").startsWith("a castle\nNegative prompt: fog"));
        assertEquals("a castle", body.at("/parameters/prompt").asText());
        JsonNode info = TestServer.JSON.readTree(body.get("info").asText());
        assertEquals(100, info.get("seed").asLong());
        assertEquals("[100,101]", info.get("all_seeds").toString());
        assertEquals(2, info.get("infotexts").size());
        assertTrue(info.get("infotexts").get(1).asText().contains("Seed: 101"));
        assertEquals("DPM++ 2M Karras", info.get("sampler_name").asText());
        assertEquals(64, info.get("width").asInt(), "A1111 rounds sizes down to a multiple of 8");
        assertEquals(5.5, info.get("cfg_scale").asDouble());
        assertEquals("0123456789", info.get("sd_model_hash").asText());
    }

    @Test
    void txt2imgDefaultsFollowA1111() throws Exception {
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"defaults\",\"width\":64,\"height\":64}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode info = TestServer.JSON.readTree(json(response).get("info").asText());
        assertEquals(50, info.get("steps").asInt());
        assertEquals(7.0, info.get("cfg_scale").asDouble());
        assertEquals("Euler a", info.get("sampler_name").asText());
        assertTrue(info.get("seed").asLong() >= 0);
    }

    @Test
    void txt2imgWithoutASizeUsesTheModelsOwnSize() throws Exception {
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"own size\",\"steps\":1,"
                + "\"override_settings\":{\"sd_model_checkpoint\":\"wide\"}}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode info = TestServer.JSON.readTree(json(response).get("info").asText());
        assertEquals(128, info.get("width").asInt(), "the 'wide' test model is 128x64");
        assertEquals(64, info.get("height").asInt());
    }

    @Test
    void img2imgUsesTheInitImage() throws Exception {
        HttpResponse<String> first = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"source\",\"steps\":1,\"width\":64,\"height\":64}");
        String init = json(first).get("images").get(0).asText();
        HttpResponse<String> response = server.post("/sdapi/v1/img2img", "{\"prompt\":\"variation\",\"steps\":5,"
                + "\"width\":64,\"height\":64,\"denoising_strength\":0.4,\"init_images\":[\"data:image/png;base64," + init + "\"]}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode info = TestServer.JSON.readTree(json(response).get("info").asText());
        assertEquals(0.4, info.get("denoising_strength").asDouble());
        HttpResponse<String> missing = server.post("/sdapi/v1/img2img", "{\"prompt\":\"no image\"}");
        assertA1111Error(missing, 422, "init_images");
        // int(2 x 0.4) = 0 steps: refused at submit, in A1111's shape, as the engine would refuse it
        HttpResponse<String> noStep = server.post("/sdapi/v1/img2img", "{\"prompt\":\"variation\",\"steps\":2,"
                + "\"denoising_strength\":0.4,\"init_images\":[\"data:image/png;base64," + init + "\"]}");
        assertA1111Error(noStep, 422, "denoising_strength");
    }

    @Test
    void a1111ErrorsUseItsShapeAnd422() throws Exception {
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":\"ten\"}"), 422, "steps");
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"cfg_scale\":500}"), 422, "cfg_scale");
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"sampler_name\":\"Heun\"}"), 422, "sampler_name");
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"batch_size\":0}"), 422, "batch_size");
        assertA1111Error(server.post("/sdapi/v1/txt2img", "not json"), 422, null);
        HttpResponse<String> model = server.post("/sdapi/v1/txt2img",
                "{\"prompt\":\"x\",\"override_settings\":{\"sd_model_checkpoint\":\"missing [0000000000]\"}}");
        assertEquals(404, model.statusCode(), model.body());
        assertEquals("HTTPException", json(model).get("error").asText());
    }

    static void assertA1111Error(HttpResponse<String> response, int status, String field) throws Exception {
        assertEquals(status, response.statusCode(), response.body());
        JsonNode body = json(response);
        assertEquals("RequestValidationError", body.get("error").asText(), response.body());
        assertTrue(body.get("detail").asText().length() > 3);
        assertTrue(body.has("body"));
        if (field != null) {
            assertTrue(body.get("errors").asText().startsWith(field + ":"), response.body());
        }
    }

    @Test
    void modelsSamplersAndOptions() throws Exception {
        JsonNode models = json(server.get("/sdapi/v1/sd-models"));
        assertEquals("tiny [0123456789]", models.get(0).get("title").asText());
        assertEquals("tiny", models.get(0).get("model_name").asText());
        JsonNode samplers = json(server.get("/sdapi/v1/samplers"));
        assertEquals("Euler a", samplers.get(5).get("name").asText());
        assertEquals("euler_a", samplers.get(5).get("aliases").get(0).asText());
        assertEquals("tiny [0123456789]", json(server.get("/sdapi/v1/options")).get("sd_model_checkpoint").asText());
        try {
            assertEquals(200, server.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"wide [abcdef0123]\"}").statusCode());
            assertEquals("wide [abcdef0123]", json(server.get("/sdapi/v1/options")).get("sd_model_checkpoint").asText());
            JsonNode job = server.awaitStatus(server.submit("{\"prompt\":\"default model\",\"steps\":1}"), "succeeded");
            assertEquals("wide", job.at("/request/model").asText());
            assertEquals(128, job.at("/request/width").asInt());
            assertEquals(404, server.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"nope\"}").statusCode());
        } finally {
            server.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"tiny\"}");
        }
    }

    @Test
    void progressAndInterrupt() throws Exception {
        JsonNode idle = json(server.get("/sdapi/v1/progress"));
        assertEquals(0.0, idle.get("progress").asDouble());
        server.engine.hold();
        try {
            CompletableFuture<HttpResponse<String>> generation = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.post("/sdapi/v1/txt2img", "{\"prompt\":\"interrupted\",\"steps\":4,\"width\":64,\"height\":64}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            JsonNode progress;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            do {
                Thread.sleep(5);
                progress = json(server.get("/sdapi/v1/progress"));
            } while (progress.at("/state/sampling_step").asInt() < 1 && System.nanoTime() < deadline);
            assertEquals(0.25, progress.get("progress").asDouble());
            assertEquals(4, progress.at("/state/sampling_steps").asInt());
            assertTrue(Base64.getDecoder().decode(progress.get("current_image").asText()).length > 8, "the step-1 preview");
            assertEquals(200, server.post("/sdapi/v1/interrupt", "").statusCode());
            HttpResponse<String> response = generation.get(20, TimeUnit.SECONDS);
            assertEquals(200, response.statusCode(), response.body());
            assertEquals(1, json(response).get("images").size(), "A1111 returns the image as it stood when interrupted");
            assertTrue(TestServer.JSON.readTree(json(response).get("info").asText()).get("interrupted").asBoolean());
        } finally {
            server.engine.release();
        }
    }

    @Test
    void pngInfoReadsTheParametersChunk() throws Exception {
        HttpResponse<String> generated = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"info, please\",\"steps\":2,\"seed\":9,"
                + "\"width\":64,\"height\":64}");
        String image = json(generated).get("images").get(0).asText();
        JsonNode info = json(server.post("/sdapi/v1/png-info", "{\"image\":\"" + image + "\"}"));
        assertTrue(info.get("info").asText().startsWith("info, please\nSteps: 2"), info.toString());
        assertEquals("9", info.at("/parameters/Seed").asText());
        assertEquals("info, please", info.at("/parameters/Prompt").asText());
        assertTrue(info.at("/items/daguerre").isTextual());
        assertA1111Error(server.post("/sdapi/v1/png-info", "{\"image\":\"bm90IGEgcG5n\"}"), 422, "image");
    }

    @Test
    void openAiGenerationsReturnB64JsonOrUrl() throws Exception {
        HttpResponse<String> response = server.post("/v1/images/generations",
                "{\"prompt\":\"a teapot\",\"n\":2,\"size\":\"64x64\",\"seed\":3,\"steps\":2}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode body = json(response);
        assertTrue(body.get("created").asLong() > 1_600_000_000L);
        assertEquals(2, body.get("data").size());
        byte[] png = Base64.getDecoder().decode(body.at("/data/0/b64_json").asText());
        assertTrue(PngText.read(png).get("parameters").contains("Seed: 3"));
        assertEquals("a teapot", body.at("/data/0/revised_prompt").asText());

        JsonNode urls = json(server.post("/v1/images/generations", "{\"prompt\":\"a cup\",\"response_format\":\"url\",\"steps\":1}"));
        String url = urls.at("/data/0/url").asText();
        assertTrue(url.startsWith("http://127.0.0.1:" + server.port() + "/api/v1/images/"), url);
        assertEquals(200, server.getBytes(url.substring(url.indexOf("/api/"))).statusCode());
    }

    @Test
    void openAiModelList() throws Exception {
        JsonNode models = json(server.get("/v1/models"));
        assertEquals("list", models.get("object").asText());
        assertEquals("tiny", models.at("/data/0/id").asText());
        assertEquals("model", models.at("/data/0/object").asText());
        assertOpenAiError(server.get("/v1/nothing"), 404, null);
    }

    @Test
    void openAiErrorsUseItsShape() throws Exception {
        assertOpenAiError(server.post("/v1/images/generations", "{\"n\":1}"), 400, "prompt");
        assertOpenAiError(server.post("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"big\"}"), 400, "size");
        assertOpenAiError(server.post("/v1/images/generations", "{\"prompt\":\"x\",\"n\":99}"), 400, "n");
        assertOpenAiError(server.post("/v1/images/generations", "{\"prompt\":\"x\",\"response_format\":\"gif\"}"), 400, "response_format");
        assertOpenAiError(server.post("/v1/images/generations", "{\"prompt\":\"x\",\"model\":\"dall-e-3\"}"), 404, "model");
        assertOpenAiError(server.post("/v1/images/generations", "{bad"), 400, null);
    }

    static void assertOpenAiError(HttpResponse<String> response, int status, String param) throws Exception {
        assertEquals(status, response.statusCode(), response.body());
        JsonNode error = json(response).get("error");
        assertEquals("invalid_request_error", error.get("type").asText());
        assertTrue(error.get("message").asText().length() > 3);
        assertTrue(error.get("code").isTextual());
        if (param == null) {
            assertTrue(error.get("param").isNull());
        } else {
            assertEquals(param, error.get("param").asText(), response.body());
        }
    }
}
