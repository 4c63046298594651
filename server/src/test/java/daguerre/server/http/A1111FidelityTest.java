package daguerre.server.http;

import static daguerre.server.http.CompatibleApisTest.assertA1111Error;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.jobs.RequestException;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an A1111 client sends must change the image as it does in A1111, or be refused: options
 * (through {@code override_settings} and {@code /options}), {@code send_images} and
 * {@code save_images}, {@code n_iter}, interrupt and skip, and the routes front-ends probe.
 */
class A1111FidelityTest {

    @TempDir
    Path dataDir;
    TestServer<GradientTestEngine> server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dataDir, new GradientTestEngine(2), c -> c.withPreviewEvery(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private JsonNode txt2img(String fields) throws Exception {
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"steps\":2,\"width\":64,\"height\":64," + fields + "}");
        assertEquals(200, response.statusCode(), response.body());
        return json(response);
    }

    private static JsonNode info(JsonNode response) throws Exception {
        return TestServer.JSON.readTree(response.get("info").asText());
    }

    /** The RGB pixels of a base64 PNG (the text chunks left out: they name the job). */
    private static int[] pixels(String base64) throws Exception {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(base64)));
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    /** The pixels of the image a native request with {@code clip_skip} makes. */
    private int[] nativePixels(int clipSkip) throws Exception {
        JsonNode job = server.awaitStatus(server.submit("{\"prompt\":\"a lighthouse\",\"seed\":77,\"steps\":2,\"width\":64,"
                + "\"height\":64,\"clip_skip\":" + clipSkip + "}"), "succeeded");
        byte[] png = server.getBytes("/api/v1/images/" + job.get("images").get(0).asText()).body();
        return pixels(Base64.getEncoder().encodeToString(png));
    }

    private int[] a1111Pixels(String extra) throws Exception {
        return pixels(txt2img("\"prompt\":\"a lighthouse\",\"seed\":77" + extra).get("images").get(0).asText());
    }

    @Test
    void clipSkipThroughOverrideSettingsAndOptionsChangesThePixelsAndPersists() throws Exception {
        int[] skip1 = nativePixels(1);
        int[] skip2 = nativePixels(2);
        assertFalse(java.util.Arrays.equals(skip1, skip2), "the test engine's pixels depend on CLIP skip");
        assertArrayEquals(skip1, a1111Pixels(""));

        JsonNode overridden = txt2img("\"prompt\":\"a lighthouse\",\"seed\":77,\"override_settings\":{\"CLIP_stop_at_last_layers\":2}");
        assertArrayEquals(skip2, pixels(overridden.get("images").get(0).asText()));
        assertEquals(2, info(overridden).get("clip_skip").asInt());
        assertEquals(1, json(server.get("/sdapi/v1/options")).get("CLIP_stop_at_last_layers").asInt(),
                "override_settings are restored afterwards by default");

        assertEquals(200, server.post("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":2}").statusCode());
        assertEquals(2, json(server.get("/sdapi/v1/options")).get("CLIP_stop_at_last_layers").asInt());
        assertArrayEquals(skip2, a1111Pixels(""));
        assertTrue(Files.exists(dataDir.resolve("a1111-options.json")));

        server.restart();
        assertEquals(2, json(server.get("/sdapi/v1/options")).get("CLIP_stop_at_last_layers").asInt(), "kept across a restart");
        assertArrayEquals(skip2, a1111Pixels(""));
        assertArrayEquals(skip1, a1111Pixels(",\"override_settings\":{\"CLIP_stop_at_last_layers\":1}"));
        assertA1111Error(server.post("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":13}"), 422, "CLIP_stop_at_last_layers");
    }

    @Test
    void overrideSettingsRestoreAfterwardsFalseKeepsTheOverride() throws Exception {
        txt2img("\"prompt\":\"kept\",\"override_settings\":{\"CLIP_stop_at_last_layers\":3,\"sd_model_checkpoint\":\"wide\"},"
                + "\"override_settings_restore_afterwards\":true");
        JsonNode options = json(server.get("/sdapi/v1/options"));
        assertEquals(1, options.get("CLIP_stop_at_last_layers").asInt());
        assertEquals("tiny [0123456789]", options.get("sd_model_checkpoint").asText());

        JsonNode response = txt2img("\"prompt\":\"kept\",\"override_settings\":{\"CLIP_stop_at_last_layers\":3,"
                + "\"sd_model_checkpoint\":\"wide\"},\"override_settings_restore_afterwards\":false");
        assertEquals(3, info(response).get("clip_skip").asInt());
        options = json(server.get("/sdapi/v1/options"));
        assertEquals(3, options.get("CLIP_stop_at_last_layers").asInt());
        assertEquals("wide [abcdef0123]", options.get("sd_model_checkpoint").asText());
        assertEquals("abcdef0123", options.get("sd_checkpoint_hash").asText());
    }

    @Test
    void readOnlyAndUnknownOptionsAreRefusedUnlessUnchanged() throws Exception {
        JsonNode options = json(server.get("/sdapi/v1/options"));
        assertEquals(200, server.post("/sdapi/v1/options", options.toString()).statusCode(), "the options as reported are accepted back");
        assertEquals(200, server.post("/sdapi/v1/options", "{\"samples_format\":\"png\",\"sd_checkpoint_hash\":\"0123456789\","
                + "\"sd_vae\":\"None\",\"eta_noise_seed_delta\":0.0}").statusCode(), "the values they have are accepted");
        assertA1111Error(server.post("/sdapi/v1/options", "{\"eta_noise_seed_delta\":31337}"), 422, "eta_noise_seed_delta");
        assertA1111Error(server.post("/sdapi/v1/options", "{\"sd_vae\":\"vae-ft-mse-840000.safetensors\"}"), 422, "sd_vae");
        HttpResponse<String> format = server.post("/sdapi/v1/options", "{\"samples_format\":\"jpg\"}");
        assertA1111Error(format, 422, "samples_format");
        assertTrue(json(format).get("detail").asText().contains("read-only"), format.body());
        assertA1111Error(server.post("/sdapi/v1/options", "{\"sd_checkpoint_hash\":\"ffffffffff\"}"), 422, "sd_checkpoint_hash");
        assertA1111Error(server.post("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":2,\"jpeg_quality\":80}"), 422,
                "jpeg_quality");
        assertEquals(1, json(server.get("/sdapi/v1/options")).get("CLIP_stop_at_last_layers").asInt(), "all or nothing");
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"override_settings\":{\"samples_format\":\"webp\"}}"),
                422, "samples_format");
    }

    @Test
    void sendImagesFalseReturnsNoImagesAndSaveImagesDecidesTheGallery() throws Exception {
        JsonNode unsent = txt2img("\"prompt\":\"unsent\",\"seed\":4,\"send_images\":false,\"batch_size\":2");
        assertEquals(0, unsent.get("images").size());
        assertEquals("[4,5]", info(unsent).get("all_seeds").toString());

        JsonNode unsaved = txt2img("\"prompt\":\"unsavedword\"");
        assertEquals(1, unsaved.get("images").size(), "save_images false (A1111's default) still answers with the image");
        assertEquals(0, json(server.get("/api/v1/images?q=unsavedword")).get("items").size(), "nothing in the gallery");

        txt2img("\"prompt\":\"savedword\",\"save_images\":true,\"batch_size\":2");
        assertEquals(2, json(server.get("/api/v1/images?q=savedword")).get("items").size());

        server.awaitStatus(server.submit("{\"prompt\":\"nativeword\",\"steps\":1}"), "succeeded");
        assertEquals(1, json(server.get("/api/v1/images?q=nativeword")).get("items").size(), "the native API always stores");
    }

    @Test
    void fieldsDaguerreDoesNotImplementAreRefusedUnlessAtTheirDefault() throws Exception {
        Map<String, String> set = Map.ofEntries(Map.entry("script_name", "\"x/y/z plot\""),
                Map.entry("alwayson_scripts", "{\"controlnet\":{\"args\":[]}}"),
                Map.entry("refiner_checkpoint", "\"sd_xl_refiner\""),
                Map.entry("refiner_switch_at", "0.8"),
                Map.entry("restore_faces", "true"),
                Map.entry("tiling", "true"),
                Map.entry("subseed_strength", "0.5"),
                Map.entry("seed_resize_from_w", "512"),
                Map.entry("refiner_denoise", "0.3"));
        for (var field : set.entrySet()) {
            HttpResponse<String> response = server.post("/sdapi/v1/txt2img",
                    "{\"prompt\":\"x\",\"steps\":1,\"" + field.getKey() + "\":" + field.getValue() + "}");
            assertA1111Error(response, 422, field.getKey());
            assertTrue(json(response).get("detail").asText().contains("not implemented"), response.body());
        }
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"scheduler\":\"Exponential\"}"), 422, "scheduler");
        txt2img("\"prompt\":\"defaults\",\"enable_hr\":false,\"styles\":[],\"script_name\":null,\"script_args\":[],"
                + "\"alwayson_scripts\":{},\"refiner_checkpoint\":\"\",\"refiner_switch_at\":null,\"restore_faces\":false,"
                + "\"tiling\":false,\"subseed_strength\":0,\"seed_resize_from_w\":-1,\"seed_resize_from_h\":0,"
                + "\"scheduler\":\"Automatic\",\"hr_scale\":2,\"hr_upscaler\":\"Latent\"");
    }

    @Test
    void hiresAndInpaintingFieldsMapOntoTheJobAndTheirErrorsNameA1111sFields() throws Exception {
        // A1111's field names and defaults reach the job (the native view of the request)
        JsonNode hires = txt2img("\"prompt\":\"hires\",\"enable_hr\":true,\"hr_resize_x\":96,\"hr_sampler_name\":\"DDIM\","
                + "\"hr_prompt\":\"sharper\"");
        assertEquals(0.75, info(hires).get("denoising_strength").asDouble(), "A1111's txt2img default");
        JsonNode job = json(server.get("/api/v1/jobs")).path("recent").path(0);
        JsonNode request = job.path("request").path("hires_fix");
        assertEquals(96, request.path("width").asInt(), job.toString());
        assertEquals(2.0, request.path("scale").asDouble());
        assertEquals("Latent", request.path("upscaler").asText());
        assertEquals("ddim", request.path("sampler").asText());
        assertEquals("sharper", request.path("prompt").asText());
        txt2img("\"prompt\":\"off\",\"enable_hr\":false,\"hr_scale\":99"); // ignored while off, as in A1111
        txt2img("\"prompt\":\"same\",\"enable_hr\":true,\"hr_sampler_name\":\"Use same sampler\",\"hr_upscaler\":null");

        for (String[] bad : new String[][] {{"\"hr_scale\":9", "hr_scale"}, {"\"hr_upscaler\":\"4x-UltraSharp\"", "hr_upscaler"},
                {"\"hr_second_pass_steps\":-1", "hr_second_pass_steps"}, {"\"hr_sampler_name\":\"Heun\"", "hr_sampler_name"},
                {"\"denoising_strength\":0", "denoising_strength"}, {"\"enable_hr\":\"yes\"", "enable_hr"}}) {
            assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":2,\"width\":64,\"height\":64,"
                    + (bad[1].equals("enable_hr") ? "" : "\"enable_hr\":true,") + bad[0] + "}"), 422, bad[1]);
        }
        String png = tinyPng();
        String img2img = "{\"prompt\":\"x\",\"steps\":2,\"init_images\":[\"" + png + "\"],\"mask\":\"" + png + "\",";
        assertA1111Error(server.post("/sdapi/v1/img2img", img2img + "\"inpainting_fill\":4}"), 422, "inpainting_fill");
        assertA1111Error(server.post("/sdapi/v1/img2img", img2img + "\"mask_blur\":65}"), 422, "mask_blur");
        assertA1111Error(server.post("/sdapi/v1/img2img", img2img + "\"inpainting_mask_invert\":2}"), 422, "inpainting_mask_invert");
        assertA1111Error(server.post("/sdapi/v1/img2img", img2img + "\"inpaint_full_res_padding\":-1}"), 422, "inpaint_full_res_padding");
        HttpResponse<String> masked = server.post("/sdapi/v1/img2img", img2img + "\"inpainting_mask_invert\":1}");
        assertEquals(200, masked.statusCode(), masked.body());
        JsonNode maskedJob = json(server.get("/api/v1/jobs")).path("recent").path(0).path("request");
        assertTrue(maskedJob.path("mask").asBoolean(), maskedJob.toString());
        assertEquals("fill", maskedJob.path("inpaint_fill").asText(), "A1111's API default inpainting_fill 0");
        assertTrue(maskedJob.path("inpaint_full_res").asBoolean(), "A1111's API default inpaint_full_res true");
        assertEquals(0, maskedJob.path("inpaint_full_res_padding").asInt(), "A1111's API default padding 0");
        assertEquals(4, maskedJob.path("mask_blur").asInt());
        assertTrue(maskedJob.path("mask_invert").asBoolean());
        // txt2img ignores a mask, as A1111 does
        txt2img("\"prompt\":\"no mask here\",\"mask\":\"" + png + "\"");
    }

    private String tinyPng() throws Exception {
        return txt2img("\"prompt\":\"init\",\"steps\":1").get("images").get(0).asText();
    }

    @Test
    void batchSizeAndNIterHaveTheirOwnLimitsAndMessages() throws Exception {
        HttpResponse<String> batch = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"batch_size\":9,\"n_iter\":5}");
        assertA1111Error(batch, 422, "batch_size");
        assertEquals("batch_size must be between 1 and 8, got 9", json(batch).get("detail").asText());
        HttpResponse<String> iterations = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"batch_size\":2,\"n_iter\":17}");
        assertA1111Error(iterations, 422, "n_iter");
        assertEquals("n_iter must be between 1 and 16, got 17", json(iterations).get("detail").asText());

        int jobsBefore = server.engine.started();
        JsonNode response = txt2img("\"prompt\":\"iterations\",\"seed\":10,\"batch_size\":2,\"n_iter\":5");
        assertEquals(10, response.get("images").size(), "batch_size 2 and n_iter 5 make 10 images, more than --max-batch");
        assertEquals("[10,11,12,13,14,15,16,17,18,19]", info(response).get("all_seeds").toString());
        assertEquals(2, info(response).get("batch_size").asInt());
        assertEquals(5, server.engine.started() - jobsBefore, "one job per iteration");
        assertTrue(info(response).get("infotexts").get(9).asText().contains("Seed: 19"));
    }

    @Test
    void maxIterationsIsASetting() throws Exception {
        try (var small = TestServer.start(dataDir.resolve("small"), new GradientTestEngine(1),
                c -> c.withLimits(new daguerre.server.jobs.Limits(512, 512, 50, 4, 10).withMaxIterations(2)))) {
            HttpResponse<String> response = small.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"steps\":1,\"n_iter\":3}");
            assertA1111Error(response, 422, "n_iter");
            assertEquals("n_iter must be between 1 and 2, got 3", json(response).get("detail").asText());
        }
    }

    @Test
    void theCostOfAllBatchesCountsEveryImageEvenPastTwoBillion() throws Exception {
        // batch_size x n_iter = 64 x 2^26 = 2^32 images: an int product would be 0 and pass the cost check
        try (var huge = TestServer.start(dataDir.resolve("huge"), new GradientTestEngine(1),
                c -> c.withLimits(new daguerre.server.jobs.Limits(512, 512, 50, 64, 10).withMaxIterations(1 << 26)))) {
            HttpResponse<String> response = huge.post("/sdapi/v1/txt2img",
                    "{\"prompt\":\"x\",\"steps\":1,\"width\":8,\"height\":8,\"batch_size\":64,\"n_iter\":67108864}");
            assertEquals(422, response.statusCode(), response.body());
            assertTrue(json(response).get("detail").asText().contains("x 4294967296 images"), response.body());
            assertEquals(0, huge.engine.started());
        }
    }

    @Test
    void maxIterationsComesFromFlagEnvironmentOrConfigFile() throws Exception {
        Path file = dataDir.resolve("daguerre.properties");
        Files.writeString(file, "max-iterations=5\n");
        assertEquals(16, serveConfig(Map.of()).limits().maxIterations());
        assertEquals(5, serveConfig(Map.of(), "--config", file.toString()).limits().maxIterations());
        assertEquals(6, serveConfig(Map.of("DAGUERRE_MAX_ITERATIONS", "6"), "--config", file.toString()).limits().maxIterations());
        assertEquals(7, serveConfig(Map.of("DAGUERRE_MAX_ITERATIONS", "6"), "--max-iterations", "7").limits().maxIterations());
    }

    private static daguerre.server.config.ServeConfig serveConfig(Map<String, String> environment, String... args) throws Exception {
        ServeCommand command = new ServeCommand(config -> new GradientTestEngine(1), environment);
        new picocli.CommandLine(command).parseArgs(args);
        return command.resolve();
    }

    @Test
    void renamingAFieldRewritesOnlyTheSubjectOfItsMessage() {
        RequestException range = RequestException.aboutField(400, "out_of_range", "n", "must be between 1 and 8, got 9");
        assertEquals("n must be between 1 and 8, got 9", range.getMessage());
        assertEquals("batch_size must be between 1 and 8, got 9", range.withField("batch_size").getMessage());
        assertEquals("batch_size", range.withField("batch_size").field());
        RequestException free = new RequestException(400, "invalid_value", "an image is needed in init_image", "init_image");
        assertEquals("an image is needed in init_image", free.withField("init_images").getMessage());
    }

    /** Waits until A1111's progress shows a running job that satisfies {@code condition}; returns that progress. */
    private JsonNode awaitProgress(Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        JsonNode progress;
        do {
            Thread.sleep(5);
            progress = json(server.get("/sdapi/v1/progress"));
        } while (!condition.test(progress) && System.nanoTime() < deadline);
        assertTrue(condition.test(progress), progress.toString());
        return progress;
    }

    private CompletableFuture<HttpResponse<String>> txt2imgAsync(String body) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return server.post("/sdapi/v1/txt2img", body);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void interruptReturnsTheImageAsItStoodAndRunsNoFurtherIteration() throws Exception {
        server.engine.hold();
        try {
            var generation = txt2imgAsync("{\"prompt\":\"stopped\",\"seed\":3,\"steps\":6,\"n_iter\":3,\"width\":64,\"height\":64}");
            awaitProgress(p -> p.at("/state/sampling_step").asInt() >= 1);
            assertEquals(200, server.post("/sdapi/v1/interrupt", "").statusCode());
            HttpResponse<String> response = generation.get(20, TimeUnit.SECONDS);
            assertEquals(200, response.statusCode(), response.body());
            JsonNode body = json(response);
            assertEquals(1, body.get("images").size(), "the interrupted image, and no later iteration");
            assertTrue(pixels(body.get("images").get(0).asText()).length == 64 * 64);
            assertTrue(info(body).get("interrupted").asBoolean());
            assertEquals("[3]", info(body).get("all_seeds").toString());
        } finally {
            server.engine.release();
        }
    }

    @Test
    void interruptLeavesJobsOfOtherApisAlone() throws Exception {
        server.engine.hold();
        try {
            String id = server.submit("{\"prompt\":\"native\",\"steps\":3}");
            awaitProgress(p -> p.at("/state/job").asText().equals(id) && p.at("/state/sampling_step").asInt() >= 1);
            assertEquals(200, server.post("/sdapi/v1/interrupt", "").statusCode());
            assertEquals(200, server.post("/sdapi/v1/skip", "").statusCode());
            Thread.sleep(50);
            assertEquals("running", json(server.get("/api/v1/jobs/" + id)).get("status").asText());
            server.engine.release();
            server.awaitStatus(id, "succeeded");
        } finally {
            server.engine.release();
        }
    }

    @Test
    void skipFinishesTheCurrentIterationAndGoesOnWithTheNext() throws Exception {
        server.engine.hold();
        try {
            var generation = txt2imgAsync("{\"prompt\":\"skipped\",\"seed\":20,\"steps\":6,\"n_iter\":2,\"width\":64,\"height\":64}");
            String first = awaitProgress(p -> p.at("/state/sampling_step").asInt() >= 1).at("/state/job").asText();
            assertEquals(200, server.post("/sdapi/v1/skip", "").statusCode());
            // the held first iteration can only end because it was skipped; the second then runs (and is held)
            awaitProgress(p -> !p.at("/state/job").asText().isEmpty() && !p.at("/state/job").asText().equals(first)
                    && p.at("/state/sampling_step").asInt() >= 1);
            assertFalse(generation.isDone());
            server.engine.release();
            HttpResponse<String> response = generation.get(20, TimeUnit.SECONDS);
            assertEquals(200, response.statusCode(), response.body());
            JsonNode info = info(json(response));
            assertEquals(2, json(response).get("images").size());
            assertEquals("[20,21]", info.get("all_seeds").toString());
            assertFalse(info.get("interrupted").asBoolean());
        } finally {
            server.engine.release();
        }
    }

    @Test
    void theRoutesFrontEndsProbeAnswer() throws Exception {
        assertEquals("{}", server.get("/internal/ping").body());
        JsonNode upscalers = json(server.get("/sdapi/v1/upscalers"));
        List<String> names = new java.util.ArrayList<>();
        upscalers.forEach(u -> names.add(u.get("name").asText()));
        assertEquals(daguerre.diffusion.pipeline.Upscalers.names(), names, "exactly the upscalers that work");
        assertTrue(upscalers.get(0).has("model_name") && upscalers.get(0).has("scale"), upscalers.toString());
        for (String empty : List.of("/sdapi/v1/sd-vae", "/sdapi/v1/loras", "/sdapi/v1/prompt-styles")) {
            HttpResponse<String> response = server.get(empty);
            assertEquals(200, response.statusCode(), empty);
            assertEquals("[]", response.body(), empty);
        }
        JsonNode schedulers = json(server.get("/sdapi/v1/schedulers"));
        assertEquals("automatic", schedulers.get(0).get("name").asText());
        assertEquals("Karras", schedulers.get(1).get("label").asText());
        JsonNode embeddings = json(server.get("/sdapi/v1/embeddings"));
        assertTrue(embeddings.get("loaded").isObject() && embeddings.get("skipped").isObject());
        HttpResponse<String> refresh = server.post("/sdapi/v1/refresh-checkpoints", "");
        assertEquals(200, refresh.statusCode(), refresh.body());
        JsonNode memory = json(server.get("/sdapi/v1/memory"));
        assertTrue(memory.at("/ram/total").asLong() > 0, memory.toString());
        assertTrue(memory.get("cuda").isObject());
        JsonNode flags = json(server.get("/sdapi/v1/cmd-flags"));
        assertTrue(flags.get("api").asBoolean());
        assertEquals(dataDir.toAbsolutePath().toString(), flags.get("data_dir").asText());
        assertNotEquals(null, flags.get("port"));
        assertFalse(flags.toString().contains("api_auth"));
    }
}
