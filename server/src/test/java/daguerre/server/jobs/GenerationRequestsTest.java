package daguerre.server.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.server.testing.GradientTestEngine;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The submit check applies the diffusion core's own rules (one request record end to end): what
 * the engine would refuse is refused at submit, with the field named, and what it accepts is
 * accepted.
 */
class GenerationRequestsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final GenerationRequests requests =
            new GenerationRequests(new GradientTestEngine(0), new Limits(2048, 2048, 150, 8, 10), () -> "tiny");

    private static ObjectNode body(String prompt) {
        return JSON.createObjectNode().put("prompt", prompt);
    }

    private RequestException refused(ObjectNode body) {
        return assertThrows(RequestException.class, () -> requests.parse(body, true));
    }

    @Test
    void ddimEtaCanBeSetAndIsStoredWithTheJob() {
        GenerationParams params = requests.parse(body("a cat").put("sampler", "ddim").put("eta", 0.5), true);
        assertEquals(0.5, params.eta());
        assertEquals(0.5, params.toRequest(null).eta());
        GenerationParams stored = GenerationRequests.fromJson(GenerationRequests.toJson(params), null);
        assertEquals(params.eta(), stored.eta(), "eta survives the job store");
        assertEquals(0, GenerationRequests.fromJson(GenerationRequests.toJson(requests.parse(body("a cat"), true)), null).eta());

        RequestException notDdim = refused(body("a cat").put("sampler", "euler").put("eta", 0.5));
        assertEquals("eta", notDdim.field());
        assertEquals("eta", refused(body("a cat").put("sampler", "ddim").put("eta", 1.5)).field());
    }

    @Test
    void cacheIntervalCanBeSetWithinTheStepsAndIsStoredWithTheJob() {
        GenerationParams params = requests.parse(body("a cat").put("steps", 10).put("cache_interval", 3), true);
        assertEquals(3, params.cacheInterval());
        assertEquals(3, params.toRequest(null).cacheInterval());
        assertEquals(3, GenerationRequests.toJson(params).get("cache_interval").asInt());
        assertEquals(3, GenerationRequests.fromJson(GenerationRequests.toJson(params), null).cacheInterval(),
                "cache_interval survives the job store");
        GenerationParams plain = requests.parse(body("a cat"), true);
        assertEquals(1, plain.cacheInterval(), "off by default");
        assertTrue(!GenerationRequests.toJson(plain).has("cache_interval"), "not stored when off");
        assertEquals(1, GenerationRequests.fromJson(GenerationRequests.toJson(plain), null).cacheInterval());
        assertEquals(10, requests.parse(body("a cat").put("steps", 10).put("cache_interval", 10), true).cacheInterval());

        RequestException zero = refused(body("a cat").put("cache_interval", 0));
        assertEquals("cache_interval", zero.field());
        assertEquals(400, zero.status());
        RequestException beyond = refused(body("a cat").put("steps", 10).put("cache_interval", 11));
        assertEquals("cache_interval", beyond.field());
        assertTrue(beyond.getMessage().contains("between 1 and 10"), beyond.getMessage());
        assertEquals("cache_interval", refused(body("a cat").put("cache_interval", 2.5)).field());
        assertEquals("cache_interval", refused(body("a cat").put("cache_interval", "3")).field());
    }

    @Test
    void guidanceAndSizeRangesAreTheDiffusionCoresOwn() {
        double max = GenerationRequest.MAX_GUIDANCE_SCALE;
        assertEquals(max, requests.parse(body("a cat").put("guidance_scale", max), true).guidanceScale());
        assertEquals("guidance_scale", refused(body("a cat").put("guidance_scale", max + 1)).field());

        int min = GenerationRequest.MIN_SIZE;
        GenerationParams smallest = requests.parse(body("a cat").put("width", min).put("height", min), true);
        assertEquals(min, smallest.toRequest(null).width());
        assertEquals("width", refused(body("a cat").put("width", min - 1)).field());
        assertEquals("height", refused(body("a cat").put("height", min + 4)).field());
    }

    @Test
    void whatTheWorkerWouldRefuseIsRefusedAtSubmit() throws Exception {
        RequestException emphasis = refused(body("a (cat:1.2.3)"));
        assertEquals("prompt", emphasis.field());
        assertTrue(emphasis.getMessage().contains("1.2.3"), emphasis.getMessage());
        assertEquals("negative_prompt", refused(body("a cat").put("negative_prompt", "(dog:0..5)")).field());

        String png = Base64.getEncoder().encodeToString(png(16, 16));
        assertEquals("strength", refused(body("a cat").put("init_image", png).put("strength", 0)).field());
        RequestException noStep = refused(body("a cat").put("init_image", png).put("steps", 2).put("strength", 0.3));
        assertEquals("strength", noStep.field());
        assertEquals(0.5, requests.parse(body("a cat").put("init_image", png).put("steps", 2).put("strength", 0.5), true)
                .strength(), "int(2 x 0.5) = 1 step is enough");

        // the test engine's "wide" model has a four-layer text encoder, "tiny" twelve
        assertEquals("clip_skip", refused(body("a cat").put("model", "wide").put("clip_skip", 5)).field());
        assertEquals(4, requests.parse(body("a cat").put("model", "wide").put("clip_skip", 4), true).clipSkip());
        assertEquals(12, requests.parse(body("a cat").put("clip_skip", 12), true).clipSkip());
    }

    @Test
    void hiresFixFieldsAreCheckedNamedAndStored() {
        ObjectNode request = body("a cat").put("steps", 4);
        request.putObject("hires_fix").put("scale", 1.5).put("upscaler", "Lanczos").put("steps", 3).put("strength", 0.4)
                .put("sampler", "ddim").put("prompt", "sharper");
        GenerationParams params = requests.parse(request, true);
        daguerre.diffusion.pipeline.HiresFix hires = params.hiresFix();
        assertEquals(1.5, hires.scale());
        assertEquals("Lanczos", hires.upscaler());
        assertEquals(3, hires.secondPassSteps());
        assertEquals(0.4, hires.denoisingStrength());
        assertEquals(daguerre.diffusion.sampling.Sampler.DDIM, hires.sampler());
        assertEquals(hires, params.toRequest(null).hiresFix());
        assertEquals(hires, GenerationRequests.fromJson(GenerationRequests.toJson(params), null).hiresFix(), "stored with the job");
        ObjectNode defaults = body("a cat");
        defaults.putObject("hires_fix");
        daguerre.diffusion.pipeline.HiresFix plain = requests.parse(defaults, true).hiresFix();
        assertEquals(2, plain.scale());
        assertEquals("Latent", plain.upscaler());
        assertEquals(daguerre.diffusion.pipeline.HiresFix.DEFAULT_DENOISING_STRENGTH, plain.denoisingStrength());
        assertEquals(null, requests.parse(body("a cat"), true).hiresFix(), "none unless asked for");

        for (String[] bad : new String[][] {{"scale", "9", "hires_fix.scale"}, {"upscaler", "\"4x-UltraSharp\"", "hires_fix.upscaler"},
                {"strength", "0", "hires_fix.strength"}, {"sampler", "\"heun\"", "hires_fix.sampler"}, {"colour", "1", "hires_fix.colour"},
                {"steps", "-1", "hires_fix.steps"}}) {
            ObjectNode wrong = body("a cat");
            try {
                wrong.set("hires_fix", JSON.readTree("{\"" + bad[0] + "\":" + bad[1] + "}"));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertEquals(bad[2], refused(wrong).field(), String.join(" ", bad));
        }
        ObjectNode huge = body("a cat").put("width", 64).put("height", 64);
        huge.putObject("hires_fix").put("scale", 8);
        RequestException tooLarge = refused(huge);
        assertEquals("image_too_large", tooLarge.code());
        assertEquals("hires_fix.scale", tooLarge.field());
        assertEquals("hires_fix", refused(body("a cat").put("hires_fix", "yes")).field());
    }

    @Test
    void aMaskNeedsAnInitImageAndTakesTheInpaintingOptions() throws Exception {
        String init = Base64.getEncoder().encodeToString(png(16, 16));
        String mask = Base64.getEncoder().encodeToString(png(8, 8));
        GenerationParams params = requests.parse(body("a cat").put("init_image", init).put("mask", mask).put("mask_blur", 6)
                .put("mask_invert", true).put("inpaint_fill", "latent_nothing").put("inpaint_full_res", true)
                .put("inpaint_full_res_padding", 10), true);
        GenerationParams.Inpaint inpaint = params.inpaint();
        assertEquals(List.of(6, true, 3, true, 10), List.of(inpaint.maskBlur(), inpaint.invert(), inpaint.fill(), inpaint.fullRes(),
                inpaint.fullResPadding()));
        BufferedImage stored = ImageIO.read(new java.io.ByteArrayInputStream(inpaint.mask()));
        assertEquals(16, stored.getWidth(), "the mask takes the init image's size");
        assertEquals(2, requests.parse(body("a cat").put("init_image", init).put("mask", mask).put("inpaint_fill", 2), true)
                .inpaint().fill(), "A1111's index is taken too");
        GenerationParams.Inpaint defaults = requests.parse(body("a cat").put("init_image", init).put("mask", mask), true).inpaint();
        assertEquals(List.of(4, false, 1, false, 32), List.of(defaults.maskBlur(), defaults.invert(), defaults.fill(), defaults.fullRes(),
                defaults.fullResPadding()), "A1111's UI defaults");
        assertEquals(null, requests.parse(body("a cat").put("init_image", init), true).inpaint());

        assertEquals("mask", refused(body("a cat").put("mask", mask)).field());
        assertEquals("mask", refused(body("a cat").put("init_image", init).put("mask", "not base64!")).field());
        assertEquals("mask_blur", refused(body("a cat").put("init_image", init).put("mask", mask).put("mask_blur", 65)).field());
        assertEquals("inpaint_fill", refused(body("a cat").put("init_image", init).put("mask", mask).put("inpaint_fill", "blur")).field());
        assertEquals("mask_invert", refused(body("a cat").put("init_image", init).put("mask", mask).put("mask_invert", 1)).field());
        assertEquals("inpaint_full_res_padding", refused(body("a cat").put("init_image", init).put("mask", mask)
                .put("inpaint_full_res_padding", 300)).field());
        ObjectNode both = body("a cat").put("init_image", init).put("mask", mask);
        both.putObject("hires_fix");
        assertEquals("hires_fix", refused(both).field(), "the hires fix is text to image only");
    }

    private static byte[] png(int width, int height) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB), "png", out);
        return out.toByteArray();
    }
}
