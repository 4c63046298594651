package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.PngText;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.config.ServeConfig;
import daguerre.server.http.DaguerreServer;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real pipeline behind the real service: a tiny golden model served over HTTP gives the CLI's images. */
class PipelineEngineTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient client = HttpClient.newHttpClient();

    @TempDir
    Path temp;

    @Test
    void servedImagesEqualThePipelinesAndCarryTheirParameters() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        ServeConfig config = ServeConfig.defaults().withPort(0).withDataDir(temp.resolve("data")).withMinFreeDiskBytes(0);
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 2);
             DaguerreServer server = DaguerreServer.start(config, engine)) {
            String base = "http://127.0.0.1:" + server.port();
            JsonNode models = get(base + "/api/v1/models");
            assertEquals("tiny", models.get("items").get(0).get("id").asText());

            HttpResponse<String> accepted = post(base + "/api/v1/generations",
                    "{\"prompt\":\"a photo of an astronaut\",\"negative_prompt\":\"blurry\",\"sampler\":\"ddim\","
                            + "\"steps\":5,\"guidance_scale\":7.5,\"seed\":42,\"n\":2}");
            assertEquals(202, accepted.statusCode(), accepted.body());
            String jobId = JSON.readTree(accepted.body()).get("id").asText();
            JsonNode job = awaitFinished(base + "/api/v1/jobs/" + jobId);
            assertEquals("succeeded", job.get("status").asText(), job.toString());
            assertEquals(2, job.get("images").size());

            byte[] png = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/images/" + job.get("images").get(1).asText())).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).body();
            Infotext served = Infotext.parse(PngText.read(png).get("parameters"));
            assertEquals("43", served.parameters().get("Seed"));
            assertEquals("DDIM", served.parameters().get("Sampler"));
            assertEquals("blurry", served.negativePrompt());

            try (StableDiffusionModel direct = StableDiffusionModel.load(model, null, new ModelHasher())) {
                BufferedImage expected = new StableDiffusionPipeline(direct).generate(
                        GenerationRequest.builder("a photo of an astronaut").negativePrompt("blurry").sampler(Sampler.DDIM)
                                .steps(5).guidanceScale(7.5).seed(43).build(),
                        GenerationListener.NONE, () -> false).get(0).image();
                BufferedImage actual = ImageIO.read(new ByteArrayInputStream(png));
                // image 1 of a batch of 2 vs the same seed alone: kernels may round differently per batch shape
                int worst = 0;
                for (int y = 0; y < expected.getHeight(); y++) {
                    for (int x = 0; x < expected.getWidth(); x++) {
                        for (int shift = 0; shift <= 16; shift += 8) {
                            int difference = ((expected.getRGB(x, y) >> shift) & 0xff) - ((actual.getRGB(x, y) >> shift) & 0xff);
                            worst = Math.max(worst, Math.abs(difference));
                        }
                    }
                }
                assertTrue(worst <= 2, "served image differs from the pipeline's by " + worst + " levels");
            }

            HttpResponse<String> a1111 = post(base + "/sdapi/v1/txt2img",
                    "{\"prompt\":\"astronaut\",\"steps\":3,\"seed\":7,\"width\":64,\"height\":64,\"sampler_name\":\"Euler a\"}");
            assertEquals(200, a1111.statusCode(), a1111.body());
            JsonNode body = JSON.readTree(a1111.body());
            byte[] a1111Png = Base64.getDecoder().decode(body.get("images").get(0).asText());
            assertTrue(PngText.read(a1111Png).get("parameters").contains("Seed: 7"));
            assertEquals(7, JSON.readTree(body.get("info").asText()).get("seed").asLong());

            // CLIP skip reaches the real text encoder (2 layers) alike from A1111's override_settings, its /options and the native field
            String request = "{\"prompt\":\"astronaut\",\"steps\":2,\"seed\":8,\"width\":64,\"height\":64,\"sampler_name\":\"Euler\"";
            BufferedImage skip1 = a1111Image(post(base + "/sdapi/v1/txt2img", request + "}"));
            BufferedImage overridden = a1111Image(post(base + "/sdapi/v1/txt2img",
                    request + ",\"override_settings\":{\"CLIP_stop_at_last_layers\":2}}"));
            HttpResponse<String> nativeSkip2 = post(base + "/api/v1/generations", "{\"prompt\":\"astronaut\",\"steps\":2,\"seed\":8,"
                    + "\"width\":64,\"height\":64,\"sampler\":\"euler\",\"guidance_scale\":7.0,\"clip_skip\":2}");
            JsonNode nativeJob = awaitFinished(base + "/api/v1/jobs/" + JSON.readTree(nativeSkip2.body()).get("id").asText());
            BufferedImage expected = ImageIO.read(new ByteArrayInputStream(client.send(HttpRequest.newBuilder(
                    URI.create(base + "/api/v1/images/" + nativeJob.get("images").get(0).asText())).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).body()));
            assertTrue(Images.maxLevelDifference(expected, overridden) <= 2, "override_settings CLIP skip 2 gives the native clip_skip 2 image");
            assertTrue(Images.maxLevelDifference(skip1, overridden) > 2, "CLIP skip changes the image");
            assertEquals(200, post(base + "/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":2}").statusCode());
            assertTrue(Images.maxLevelDifference(expected, a1111Image(post(base + "/sdapi/v1/txt2img", request + "}"))) <= 2,
                    "the CLIP skip set through /options applies to later requests");
        }
    }

    /**
     * Step caching through the real service: the native field and A1111's extra field reach the
     * pipeline (the served image is the pipeline's cached one), the job keeps it, the infotext and
     * png-info show it, and an interval outside 1..steps is refused in each family's shape.
     */
    @Test
    void cacheIntervalReachesThePipelineFromTheNativeAndA1111Apis() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        ServeConfig config = ServeConfig.defaults().withPort(0).withDataDir(temp.resolve("data")).withMinFreeDiskBytes(0);
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 2);
             DaguerreServer server = DaguerreServer.start(config, engine);
             StableDiffusionModel direct = StableDiffusionModel.load(model, null, new ModelHasher())) {
            String base = "http://127.0.0.1:" + server.port();
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(direct);
            GenerationRequest.Builder expected = GenerationRequest.builder("a photo of an astronaut").sampler(Sampler.EULER)
                    .steps(6).guidanceScale(7.5).seed(42).size(64, 64);
            BufferedImage cached = pipeline.generate(expected.cacheInterval(2).build(), GenerationListener.NONE, () -> false).get(0).image();
            BufferedImage uncached = pipeline.generate(expected.cacheInterval(1).build(), GenerationListener.NONE, () -> false).get(0).image();
            assertTrue(Images.maxLevelDifference(cached, uncached) > 0, "caching changes the image of this model");

            HttpResponse<String> accepted = post(base + "/api/v1/generations", "{\"prompt\":\"a photo of an astronaut\",\"sampler\":\"euler\","
                    + "\"steps\":6,\"guidance_scale\":7.5,\"seed\":42,\"width\":64,\"height\":64,\"cache_interval\":2}");
            assertEquals(202, accepted.statusCode(), accepted.body());
            JsonNode job = awaitFinished(base + "/api/v1/jobs/" + JSON.readTree(accepted.body()).get("id").asText());
            assertEquals("succeeded", job.get("status").asText(), job.toString());
            assertEquals(2, job.get("request").get("cache_interval").asInt(), job.toString());
            byte[] png = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/images/" + job.get("images").get(0).asText())).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).body();
            assertEquals("2", Infotext.parse(PngText.read(png).get("parameters")).parameters().get("Cache interval"));
            BufferedImage served = ImageIO.read(new ByteArrayInputStream(png));
            assertTrue(Images.maxLevelDifference(cached, served) <= 2, "the served image is the pipeline's cached one");

            HttpResponse<String> a1111 = post(base + "/sdapi/v1/txt2img", "{\"prompt\":\"a photo of an astronaut\",\"steps\":6,"
                    + "\"cfg_scale\":7.5,\"seed\":42,\"width\":64,\"height\":64,\"sampler_name\":\"Euler\",\"cache_interval\":2}");
            BufferedImage viaA1111 = a1111Image(a1111);
            assertTrue(Images.maxLevelDifference(cached, viaA1111) <= 2, "A1111's cache_interval gives the cached image");
            String infotext = JSON.readTree(JSON.readTree(a1111.body()).get("info").asText()).get("infotexts").get(0).asText();
            assertTrue(infotext.contains("Cache interval: 2"), infotext);
            HttpResponse<String> pngInfo = post(base + "/sdapi/v1/png-info", JSON.createObjectNode()
                    .put("image", JSON.readTree(a1111.body()).get("images").get(0).asText()).toString());
            assertEquals("2", JSON.readTree(pngInfo.body()).get("parameters").get("Cache interval").asText(), pngInfo.body());

            HttpResponse<String> tooLong = post(base + "/api/v1/generations", "{\"prompt\":\"a\",\"steps\":6,\"cache_interval\":7}");
            assertEquals(400, tooLong.statusCode(), tooLong.body());
            assertEquals("cache_interval", JSON.readTree(tooLong.body()).get("error").get("field").asText());
            HttpResponse<String> zero = post(base + "/sdapi/v1/txt2img", "{\"prompt\":\"a\",\"steps\":6,\"cache_interval\":0}");
            assertEquals(422, zero.statusCode(), zero.body());
            assertTrue(JSON.readTree(zero.body()).get("errors").asText().startsWith("cache_interval"), zero.body());
        }
    }

    private static BufferedImage a1111Image(HttpResponse<String> response) throws Exception {
        assertEquals(200, response.statusCode(), response.body());
        String base64 = JSON.readTree(response.body()).get("images").get(0).asText();
        return ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(base64)));
    }


    private JsonNode get(String url) throws Exception {
        return JSON.readTree(client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    private HttpResponse<String> post(String url, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode awaitFinished(String url) throws Exception {
        for (int i = 0; i < 600; i++) {
            JsonNode job = get(url);
            String status = job.get("status").asText();
            if (!status.equals("queued") && !status.equals("running")) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job did not finish in 60 s: " + url);
    }
}
