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

    private static byte[] png(int width, int height) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB), "png", out);
        return out.toByteArray();
    }
}
