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
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every request has a bounded cost, checked at submit on every API family (native, A1111, OpenAI, batch lines):
 * prompt caps (before any tokenizing), image area per model (init images too, from their headers), job cost.
 */
class RequestLimitsTest {

    /** 1 MiB of prompt: far over the character cap, and under the body limit these tests set. */
    private static final String HUGE_PROMPT = "red heart, ".repeat((1 << 20) / 11 + 1).substring(0, 1 << 20);

    @TempDir
    static Path dataDir;
    static TestServer<ChunkCountingEngine> server;

    @BeforeAll
    static void start() throws Exception {
        // the test double's models and "big", of SD 1.5's native size
        server = TestServer.start(dataDir, new ChunkCountingEngine(new GradientTestEngine(1,
                new ModelDescriptor("big", "big", "5555555555", 512, 512, "test double, 512 px", null, 12))), c -> c.withMaxBodyBytes(4 << 20));
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

    @Test
    void eachModelAllowsFourTimesItsNativeArea() throws Exception {
        // the default test model "tiny" is 64x64 (as the shipped default model): at most 16,384 pixels, 128x128
        HttpResponse<String> a1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"width\":512,\"height\":512,\"steps\":1}");
        assertA1111Error(a1111, 422, "width");
        assertTrue(json(a1111).get("detail").asText().contains("allows at most 16384"), a1111.body());
        assertTrue(json(a1111).get("detail").asText().contains("--max-pixels"), a1111.body());
        HttpResponse<String> openAi = server.post("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"1024x1024\",\"steps\":1}");
        assertOpenAiError(openAi, 400, "size");
        assertEquals("image_too_large", json(openAi).at("/error/code").asText());
        assertTrue(json(openAi).at("/error/message").asText().contains("1024x1024 is 1048576 pixels"), openAi.body());
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"width\":136,\"height\":128}"), 400, "image_too_large",
                "width");
        assertEquals(16384, json(server.get("/api/v1/models")).at("/items/0/max_pixels").asInt());
        assertEquals(202, server.post("/api/v1/generations", "{\"prompt\":\"x\",\"width\":128,\"height\":128,\"steps\":1}")
                .statusCode());
        assertEquals(202, server.post("/api/v1/generations", "{\"prompt\":\"x\",\"width\":256,\"height\":64,\"steps\":1}")
                .statusCode(), "the area counts, not the sides");
        // "wide" is 128x64: 4 x 8,192 pixels
        assertEquals(202, server.post("/api/v1/generations", "{\"prompt\":\"x\",\"model\":\"wide\",\"width\":256,\"height\":128,"
                + "\"steps\":1}").statusCode());
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"model\":\"wide\",\"width\":256,\"height\":136}"),
                400, "image_too_large", "width");
    }

    @Test
    void anExplicitMaxPixelsAppliesToEveryModel() throws Exception {
        try (var small = TestServer.start(dataDir.resolve("explicit"), new GradientTestEngine(1),
                c -> c.withLimits(c.limits().withMaxPixels(64 * 64)))) {
            assertError(small.post("/api/v1/generations", "{\"prompt\":\"x\",\"model\":\"wide\"}"), 400, "image_too_large", "width");
            assertEquals(202, small.post("/api/v1/generations", "{\"prompt\":\"x\",\"steps\":1}").statusCode());
        }
    }

    @Test
    void aJobCostingHoursIsRefusedAndNormalUseIsNot() throws Exception {
        // "big" stands for SD 1.5 (512x512): 150 steps x 8 images would be 314.6 megapixel-steps
        assertError(server.post("/api/v1/generations", "{\"prompt\":\"x\",\"model\":\"big\",\"steps\":150,\"n\":8}"), 400,
                "job_too_costly", null);
        HttpResponse<String> a1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":150,\"batch_size\":2,\"n_iter\":4,"
                + "\"override_settings\":{\"sd_model_checkpoint\":\"big\"}}");
        assertA1111Error(a1111, 422, null);
        assertTrue(json(a1111).get("detail").asText().contains("314.6 megapixel-steps"), a1111.body());
        assertTrue(json(a1111).get("detail").asText().contains("--max-job-cost"), a1111.body());
        // the hires fix's second pass counts: 50 steps at 512x512 then 50 at 1024x1024, 8 images over n_iter = 524.3
        HttpResponse<String> hires = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":50,\"batch_size\":2,\"n_iter\":4,"
                + "\"enable_hr\":true,\"hr_scale\":2,\"override_settings\":{\"sd_model_checkpoint\":\"big\"}}");
        assertA1111Error(hires, 422, null);
        assertTrue(json(hires).get("detail").asText().contains("with its hires fix would cost 524.3 megapixel-steps"), hires.body());
        HttpResponse<String> openAi = server.post("/v1/images/generations", "{\"prompt\":\"x\",\"model\":\"big\",\"n\":8,"
                + "\"steps\":150,\"size\":\"512x512\"}");
        assertOpenAiError(openAi, 400, null);
        assertEquals("job_too_costly", json(openAi).at("/error/code").asText());
        JsonNode batch = json(postBatch("--prompt x --sd_model big --steps 150 --batch_size 8\n"));
        assertEquals("job_too_costly", batch.at("/lines/0/error/code").asText(), batch.toString());

        for (String normal : List.of("{\"steps\":100,\"n\":4}", "{\"steps\":50,\"n\":2,\"width\":1024,\"height\":1024}")) {
            HttpResponse<String> accepted = server.post("/api/v1/generations",
                    normal.replace("{", "{\"prompt\":\"x\",\"model\":\"big\","));
            assertEquals(202, accepted.statusCode(), accepted.body());
            server.post("/api/v1/jobs/" + json(accepted).get("id").asText() + "/cancel", "");
        }
    }

    @Test
    void anOversizedInitImageIsRefusedFromItsHeaderBeforeDecoding() throws Exception {
        // init images are resized to the request's size: larger than the model's area is fine up to 16 megapixels
        assertEquals(202, server.post("/api/v1/generations", img2img(png(200, 200))).statusCode());

        // a few bytes that claim 100000x100000: decoding them would allocate 30 GB
        HttpResponse<String> claimed = server.post("/api/v1/generations", img2img(pngHeader(100_000, 100_000)));
        assertError(claimed, 400, "image_too_large", "init_image");
        assertTrue(json(claimed).at("/error/message").asText().contains("100000x100000"), claimed.body());
        assertTrue(json(claimed).at("/error/message").asText().contains("at most 16000000 pixels"), claimed.body());
        assertError(server.post("/api/v1/generations", img2img(pngHeader(5000, 4000))), 400, "image_too_large", "init_image");
        assertError(server.post("/api/v1/generations", img2img(jpegHeader(30_000, 30_000))), 400, "image_too_large", "init_image");
        HttpResponse<String> a1111 = server.post("/sdapi/v1/img2img", "{\"prompt\":\"x\",\"steps\":1,\"init_images\":[\""
                + Base64.getEncoder().encodeToString(pngHeader(100_000, 100_000)) + "\"]}");
        assertA1111Error(a1111, 422, "init_images");
        assertTrue(json(a1111).get("detail").asText().contains("100000x100000"), a1111.body());
    }

    private static String img2img(byte[] image) {
        return "{\"prompt\":\"x\",\"steps\":4,\"init_image\":\"" + Base64.getEncoder().encodeToString(image) + "\"}";
    }

    private static byte[] png(int width, int height) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB), "png", out);
        return out.toByteArray();
    }

    /** A PNG signature, an IHDR chunk for an RGB image of this size, and IEND: no pixel data at all. */
    private static byte[] pngHeader(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(17).put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(width).putInt(height)
                .put(new byte[] {8, 2, 0, 0, 0});
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        return ByteBuffer.allocate(8 + 4 + 17 + 4 + 12)
                .put(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})
                .putInt(13).put(ihdr.array()).putInt((int) crc.getValue())
                .putInt(0).put("IEND".getBytes(StandardCharsets.US_ASCII)).putInt(0xAE426082).array();
    }

    /** A real 16x16 JPEG whose frame header (SOF0) claims this size instead. */
    private static byte[] jpegHeader(int width, int height) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB), "jpg", out);
        byte[] jpeg = out.toByteArray();
        for (int i = 2; i + 9 < jpeg.length; i++) {
            if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == 0xC0) {
                // FF C0, length (2), precision (1), then height and width
                ByteBuffer.wrap(jpeg, i + 5, 4).putShort((short) height).putShort((short) width);
                return jpeg;
            }
        }
        throw new AssertionError("no SOF0 marker in the JPEG ImageIO wrote");
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
