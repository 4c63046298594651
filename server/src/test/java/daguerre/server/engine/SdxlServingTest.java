package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.MicroConditioning;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.testing.TestServer;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An SDXL model (the golden tiny one, as a diffusers folder) served beside an SD 1.x model: it is
 * listed as SDXL, generates through the native, A1111 and OpenAI routes, and takes micro-conditioning
 * on the native route, which SD models refuse.
 */
class SdxlServingTest {

    @TempDir
    Path temp;

    @Test
    void anSdxlModelServesEveryRouteAndTakesMicroConditioning() throws Exception {
        Path sdxl = Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        assertTrue(Files.isRegularFile(sdxl.resolve("model_index.json")), "golden folder missing: " + sdxl);
        Path sd = TinyModelFolder.create(temp, "tiny");
        try (PipelineEngine engine = PipelineEngine.load(List.of(sdxl, sd), new ModelHasher(), 1);
             TestServer<PipelineEngine> server = TestServer.start(temp.resolve("data"), engine, c -> c)) {
            String xl = engine.models().get(0).id();
            JsonNode models = TestServer.json(server.get("/api/v1/models")).get("items");
            assertEquals("sdxl", models.get(0).get("family").asText());
            assertEquals("sd", models.get(1).get("family").asText());
            int size = models.get(0).get("default_width").asInt();

            // native, with micro-conditioning: the image the pipeline gives for the same request
            String micro = "{\"original_width\":768,\"original_height\":1024,\"crop_top\":16,\"crop_left\":32}";
            String request = "{\"model\":\"" + xl + "\",\"prompt\":\"a photo of an astronaut\",\"negative_prompt\":\"blurry\","
                    + "\"sampler\":\"euler\",\"steps\":4,\"guidance_scale\":5,\"seed\":3,\"width\":" + size + ",\"height\":" + size;
            JsonNode job = server.awaitStatus(server.submit(request + ",\"micro_conditioning\":" + micro + "}"), "succeeded");
            assertEquals(768, job.path("request").path("micro_conditioning").path("original_width").asInt(), job.toString());
            BufferedImage served = image(server.getBytes("/api/v1/images/" + job.get("images").get(0).asText()).body());
            BufferedImage plain = image(server.getBytes("/api/v1/images/"
                    + server.awaitStatus(server.submit(request + "}"), "succeeded").get("images").get(0).asText()).body());
            try (StableDiffusionModel model = StableDiffusionModel.load(sdxl, null, new ModelHasher())) {
                BufferedImage direct = new StableDiffusionPipeline(model).generate(GenerationRequest.builder("a photo of an astronaut")
                        .negativePrompt("blurry").sampler(Sampler.EULER).steps(4).guidanceScale(5).seed(3).size(size, size)
                        .microConditioning(new MicroConditioning(768, 1024, 16, 32, size, size), null).build(),
                        GenerationListener.NONE, () -> false).get(0).image();
                assertTrue(Images.maxLevelDifference(direct, served) <= 1, "served SDXL image = the pipeline's");
            }
            assertTrue(Images.maxLevelDifference(plain, served) > 0, "micro-conditioning changes the image");
            JsonNode metadata = TestServer.json(server.get("/api/v1/images/" + job.get("images").get(0).asText() + "/metadata"));
            String infotext = metadata.get("infotext").asText();
            assertTrue(infotext.contains("Original size: 768x1024, Crop top: 16, Crop left: 32"), infotext);
            assertTrue(!infotext.contains("Target size"), "the default target size is left out: " + infotext);

            // A1111 and OpenAI clients reach it too (they send no micro-conditioning: the defaults)
            HttpResponse<String> options = server.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"" + xl + "\"}");
            assertEquals(200, options.statusCode(), options.body());
            HttpResponse<String> a1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"astronaut\",\"steps\":2,\"width\":" + size
                    + ",\"height\":" + size + "}");
            assertEquals(200, a1111.statusCode(), a1111.body());
            assertEquals(size, image(Base64.getDecoder().decode(TestServer.json(a1111).get("images").get(0).asText())).getWidth());
            // A1111's SDXL crop options condition its SDXL generations as the native crop does
            assertEquals(200, server.post("/sdapi/v1/options", "{\"sdxl_crop_top\":16,\"sdxl_crop_left\":32}").statusCode());
            JsonNode options2 = TestServer.json(server.get("/sdapi/v1/options"));
            assertEquals(16, options2.get("sdxl_crop_top").asInt());
            assertEquals(32, options2.get("sdxl_crop_left").asInt());
            HttpResponse<String> cropped = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"astronaut\",\"steps\":3,\"seed\":5,"
                    + "\"cfg_scale\":5,\"sampler_name\":\"Euler\",\"width\":" + size + ",\"height\":" + size + "}");
            assertEquals(200, cropped.statusCode(), cropped.body());
            JsonNode nativeCrop = server.awaitStatus(server.submit("{\"model\":\"" + xl + "\",\"prompt\":\"astronaut\",\"steps\":3,"
                    + "\"seed\":5,\"guidance_scale\":5,\"sampler\":\"euler\",\"width\":" + size + ",\"height\":" + size
                    + ",\"micro_conditioning\":{\"crop_top\":16,\"crop_left\":32}}"), "succeeded");
            assertTrue(Images.maxLevelDifference(image(server.getBytes("/api/v1/images/" + nativeCrop.get("images").get(0).asText()).body()),
                    image(Base64.getDecoder().decode(TestServer.json(cropped).get("images").get(0).asText()))) <= 1,
                    "A1111 with sdxl_crop_top/left = native with that crop");
            assertEquals(422, server.post("/sdapi/v1/options", "{\"sdxl_crop_left\":-1}").statusCode(), "A1111 answers a bad option with 422");

            HttpResponse<String> openAi = server.post("/v1/images/generations", "{\"model\":\"" + xl + "\",\"prompt\":\"astronaut\","
                    + "\"size\":\"" + size + "x" + size + "\",\"steps\":2}");
            assertEquals(200, openAi.statusCode(), openAi.body());

            // SD models have no micro-conditioning; unknown fields are named
            HttpResponse<String> onSd = server.post("/api/v1/generations", "{\"model\":\"tiny\",\"prompt\":\"a\",\"micro_conditioning\":"
                    + micro + "}");
            assertEquals(400, onSd.statusCode(), onSd.body());
            assertEquals("micro_conditioning", TestServer.json(onSd).path("error").path("field").asText());
            HttpResponse<String> unknown = server.post("/api/v1/generations", "{\"model\":\"" + xl + "\",\"prompt\":\"a\","
                    + "\"negative_micro_conditioning\":{\"crop_bottom\":3}}");
            assertEquals(400, unknown.statusCode(), unknown.body());
            assertTrue(unknown.body().contains("crop_bottom"), unknown.body());
            HttpResponse<String> negative = server.post("/api/v1/generations", "{\"model\":\"" + xl + "\",\"prompt\":\"a\","
                    + "\"micro_conditioning\":{\"crop_top\":-1}}");
            assertEquals(400, negative.statusCode(), negative.body());
            assertEquals("micro_conditioning.crop_top", TestServer.json(negative).path("error").path("field").asText());
        }
    }

    private static BufferedImage image(byte[] png) throws Exception {
        return ImageIO.read(new ByteArrayInputStream(png));
    }

}
