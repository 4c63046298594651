package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Hires fix on the tiny golden model: sizes, both kinds of upscaler, the infotext, progress, batching and validation. */
class HiresFixTest {

    private static final String PROMPT = "a red apple on a wooden table";
    private static final int SIZE = 32;

    private static StableDiffusionModel model;
    private static StableDiffusionPipeline pipeline;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Files.createTempDirectory("daguerre-hires-test");
        model = StableDiffusionModel.load(TinyModelFolder.create(dir, "tiny"), null, new ModelHasher());
        pipeline = new StableDiffusionPipeline(model);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static GenerationRequest.Builder request(HiresFix hires) {
        return GenerationRequest.builder(PROMPT).negativePrompt("blurry").steps(4).seed(5).size(SIZE, SIZE).hiresFix(hires);
    }

    private static List<GeneratedImage> run(GenerationRequest request) {
        return pipeline.generate(request, GenerationListener.NONE, () -> false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
            "Latent (nearest)", "Latent (nearest-exact)", "None", "Lanczos", "Nearest"})
    void theResultIsHrScaleTimesTheSizeAndTheInfotextSaysHow(String upscaler) {
        HiresFix hires = HiresFix.scaled(2, upscaler).withSecondPassSteps(3).withDenoisingStrength(0.5);
        GeneratedImage image = run(request(hires).build()).get(0);
        assertEquals(2 * SIZE, image.image().getWidth());
        assertEquals(2 * SIZE, image.image().getHeight());
        Map<String, String> params = image.infotext().parameters();
        assertEquals("2", params.get("Hires upscale"));
        assertEquals("3", params.get("Hires steps"));
        assertEquals(upscaler, params.get("Hires upscaler"));
        assertEquals("0.5", params.get("Denoising strength"));
        assertEquals(SIZE + "x" + SIZE, params.get("Size"), "Size is the first pass's, as in A1111");
        assertFalse(params.containsKey("Hires resize"));
        assertTrue(image.infotext().format().contains(
                "Hires upscale: 2, Hires steps: 3, Hires upscaler: " + (upscaler.contains(",") ? "\"" : "") + upscaler));
    }

    @Test
    void theSecondPassChangesTheUpscaledImage() {
        GeneratedImage plain = run(request(null).build()).get(0);
        GeneratedImage hires = run(request(HiresFix.scaled(2, "Nearest").withDenoisingStrength(0.75)).build()).get(0);
        BufferedImage doubled = ((Upscaler.Pixel) Upscalers.find("Nearest").orElseThrow()).upscale(plain.image(), 2 * SIZE, 2 * SIZE);
        assertTrue(Images.maxLevelDifference(doubled, hires.image()) > 1, "the img2img pass did nothing");
        assertEquals(hires.image().getWidth(), doubled.getWidth());
        // the same request twice: the same image (fresh noise from the same seeds)
        assertEquals(0, Images.maxLevelDifference(hires.image(),
                run(request(HiresFix.scaled(2, "Nearest").withDenoisingStrength(0.75)).build()).get(0).image()));
    }

    @Test
    void aResizeGivesThatSizeCroppedToItsAspectRatio() {
        HiresFix hires = HiresFix.scaled(2, "Latent").withResize(48, 40);
        HiresFix.Target target = hires.target(SIZE, SIZE, model.vaeScaleFactor());
        assertEquals(new HiresFix.Target(48, 40, 48, 48), target);
        for (String upscaler : List.of("Latent", "Lanczos")) {
            GeneratedImage image = run(request(new HiresFix(2, 48, 40, upscaler, 0, 0.6, null, null, null)).build()).get(0);
            assertEquals(48, image.image().getWidth());
            assertEquals(40, image.image().getHeight());
            assertEquals("48x40", image.infotext().parameters().get("Hires resize"));
            assertFalse(image.infotext().parameters().containsKey("Hires upscale"));
            assertFalse(image.infotext().parameters().containsKey("Hires steps"), "0 steps = the same: not written");
        }
        // one side given: the other in proportion (A1111: resize_x * height // width)
        assertEquals(new HiresFix.Target(40, 20, 40, 20), HiresFix.scaled(1, "Latent").withResize(40, 0).target(32, 16, 2));
        assertEquals(new HiresFix.Target(60, 30, 60, 30), HiresFix.scaled(1, "Latent").withResize(0, 30).target(32, 16, 2));
        // a scale that is not a whole number: int(size * scale), down to the VAE's multiple
        assertEquals(new HiresFix.Target(48, 48, 48, 48), HiresFix.scaled(1.5, "Latent").target(32, 32, 8));
        assertEquals(new HiresFix.Target(40, 40, 40, 40), HiresFix.scaled(1.3, "Latent").target(32, 32, 8));
    }

    @Test
    void theInfotextNamesTheUpscalerAsA1111Does() {
        GeneratedImage image = run(request(HiresFix.scaled(1.5, "latent (NEAREST)")).build()).get(0);
        assertEquals("Latent (nearest)", image.infotext().parameters().get("Hires upscaler"));
        assertEquals("1.5", image.infotext().parameters().get("Hires upscale"));
        assertEquals(48, image.image().getWidth());
    }

    @Test
    void hiresSamplerAndPromptsAreUsedAndWritten() {
        HiresFix hires = HiresFix.scaled(2, "Latent").withSampler(Sampler.DDIM).withPrompts("a green apple", "");
        GeneratedImage image = run(request(hires).sampler(Sampler.EULER).build()).get(0);
        Map<String, String> params = image.infotext().parameters();
        assertEquals("DDIM", params.get("Hires sampler"));
        assertEquals("a green apple", params.get("Hires prompt"));
        assertFalse(params.containsKey("Hires negative prompt"), "empty = the request's, not written");
        assertEquals(PROMPT, image.infotext().prompt());
        GeneratedImage samePrompt = run(request(HiresFix.scaled(2, "Latent").withSampler(Sampler.DDIM)).sampler(Sampler.EULER).build()).get(0);
        assertTrue(Images.maxLevelDifference(image.image(), samePrompt.image()) > 0, "the hires prompt conditions the second pass");
    }

    @Test
    void progressCountsBothPasses() {
        List<int[]> steps = new ArrayList<>();
        HiresFix hires = HiresFix.scaled(2, "Latent").withSecondPassSteps(6).withDenoisingStrength(0.5);
        pipeline.generate(request(hires).build(), (step, total, preview) -> steps.add(new int[] {step, total}), () -> false);
        // first pass 4 calls, second int(6 * 0.5) = 3
        assertEquals(7, steps.size());
        for (int i = 0; i < steps.size(); i++) {
            assertEquals(i + 1, steps.get(i)[0]);
            assertEquals(7, steps.get(i)[1]);
        }
    }

    @Test
    void theStepBatcherRunsBothPasses() throws Exception {
        HiresFix hires = HiresFix.scaled(2, "Latent").withDenoisingStrength(0.5);
        try (StepBatcher batcher = new StepBatcher(pipeline, 8, "hires-test")) {
            GeneratedImage batched = batcher.generate(request(hires).build(), GenerationListener.NONE, () -> false).get(0);
            GeneratedImage alone = run(request(hires).build()).get(0);
            assertEquals(2 * SIZE, batched.image().getWidth());
            assertTrue(Images.maxLevelDifference(alone.image(), batched.image()) <= 2);
            assertEquals(alone.infotext(), batched.infotext());
        }
    }

    @Test
    void startRunsTheFirstPassAndNextPassTheSecond() {
        HiresFix hires = HiresFix.scaled(2, "Latent").withDenoisingStrength(0.5);
        try (GenerationJob first = pipeline.start(request(hires).build(), SeededNoise.consecutive(5, 1), GenerationListener.NONE,
                () -> false)) {
            assertEquals(null, pipeline.nextPass(first), "not finished yet");
            while (!first.isFinished()) {
                pipeline.step(List.of(first));
            }
            try (GenerationJob second = pipeline.nextPass(first)) {
                assertEquals(2 * SIZE, second.request().width());
                assertEquals(null, pipeline.nextPass(second));
            }
        }
    }

    @Test
    void badHiresRequestsNameTheirField() {
        assertEquals("hr_scale", assertThrows(InvalidRequestException.class, () -> HiresFix.scaled(0.5, "Latent")).field());
        assertEquals("hr_upscaler", assertThrows(InvalidRequestException.class, () -> HiresFix.scaled(2, "SwinIR 4x")).field());
        assertEquals("denoising_strength", assertThrows(InvalidRequestException.class,
                () -> HiresFix.scaled(2, "Latent").withDenoisingStrength(0)).field());
        assertEquals("hr_second_pass_steps", assertThrows(InvalidRequestException.class,
                () -> HiresFix.scaled(2, "Latent").withSecondPassSteps(-1)).field());
        assertEquals("hr_resize_x", assertThrows(InvalidRequestException.class,
                () -> HiresFix.scaled(2, "Latent").withResize(-8, 0)).field());
        assertEquals("denoising_strength", assertThrows(InvalidRequestException.class,
                () -> request(HiresFix.scaled(2, "Latent").withDenoisingStrength(0.1)).build()).field());
        BufferedImage init = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        assertEquals("enable_hr", assertThrows(InvalidRequestException.class,
                () -> request(HiresFix.scaled(2, "Latent")).initImage(init, 0.5).build()).field());
    }
}
