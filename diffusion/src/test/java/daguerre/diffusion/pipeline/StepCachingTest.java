package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.sampling.ModelCall;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Step caching (DeepCache) end to end on the tiny golden pipeline. */
class StepCachingTest {

    private static final String PROMPT = "a photo of an astronaut riding a horse";

    private static StableDiffusionModel model;
    private static StableDiffusionPipeline pipeline;

    @BeforeAll
    static void load() throws Exception {
        Path folder = Files.createTempDirectory("daguerre-step-cache-test");
        model = StableDiffusionModel.load(TinyModelFolder.create(folder, "tiny"), null, new ModelHasher());
        pipeline = new StableDiffusionPipeline(model);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder(PROMPT).negativePrompt("blurry").sampler(Sampler.EULER).steps(8).seed(77);
    }

    private static List<GeneratedImage> run(GenerationRequest request) {
        return pipeline.generate(request, GenerationListener.NONE, () -> false);
    }

    /**
     * cache_interval 1 takes exactly today's path: every step's latents equal, bit for bit, those of
     * a loop that calls the plain U-Net forward pass and guidance itself.
     */
    @Test
    void intervalOneIsBitIdenticalToPlainForwardSteps() {
        GenerationRequest request = request().cacheInterval(1).build();
        try (GenerationJob viaPipeline = pipeline.start(request, SeededNoise.consecutive(request.seed(), 1), GenerationListener.NONE, () -> false);
             GenerationJob byHand = pipeline.start(request, SeededNoise.consecutive(request.seed(), 1), GenerationListener.NONE, () -> false)) {
            while (!viaPipeline.isFinished()) {
                assertEquals(1, pipeline.step(List.of(viaPipeline)));
                try (NDManager step = model.manager().newSubManager()) {
                    ModelCall call = byHand.state.modelCall(step);
                    NDArray doubled = call.input().concat(call.input(), 0);   // [uncond; cond] rows
                    float t = (float) call.timestep();
                    NDArray out = model.unet().forward(doubled, new float[] {t, t}, byHand.conditioning);
                    out.attach(step);
                    byHand.state.advance(ClassifierFreeGuidance.combine(out, request.guidanceScale(), request.guidanceRescale()));
                }
                assertArrayEquals(byHand.state.latents().toFloatArray(), viaPipeline.state.latents().toFloatArray(),
                        "step " + viaPipeline.state.stepsTaken());
                assertEquals(null, viaPipeline.deepFeatures(), "no features kept without caching");
            }
        }
        assertFalse(run(request().build()).get(0).infotext().parameters().containsKey("Cache interval"));
    }

    /**
     * With cache_interval 2 the image changes, but by far less than another seed changes it; the
     * infotext says so. Every other model call is a shallow one, from the first (full) one on.
     */
    @Test
    void intervalTwoStaysCloseToTheUncachedImage() {
        BufferedImage uncached = run(request().build()).get(0).image();
        GeneratedImage cached = run(request().cacheInterval(2).build()).get(0);
        BufferedImage otherSeed = run(request().seed(78).build()).get(0).image();

        double change = meanLevelDifference(uncached, cached.image());
        double seedChange = meanLevelDifference(uncached, otherSeed);
        System.out.printf("cache_interval 2: mean abs %.3f levels vs uncached (another seed: %.3f)%n", change, seedChange);
        assertTrue(change > 0, "caching changed nothing: the shallow steps did not run");
        assertTrue(change < seedChange / 4, "cache_interval 2 moved the image " + change + " levels on average; another seed "
                + seedChange);
        assertEquals("2", cached.infotext().parameters().get("Cache interval"));
        assertTrue(cached.infotext().format().contains("Cache interval: 2"), cached.infotext().format());
        assertEquals("2", Infotext.parse(cached.infotext().format()).parameters().get("Cache interval"));

        GenerationRequest request = request().cacheInterval(3).build();
        List<Boolean> shallow = new ArrayList<>();
        try (GenerationJob job = pipeline.start(request, SeededNoise.consecutive(request.seed(), 1), GenerationListener.NONE, () -> false)) {
            while (!job.isFinished()) {
                shallow.add(job.shallowStep());
                pipeline.step(List.of(job));
            }
        }
        assertEquals(List.of(false, true, true, false, true, true, false, true), shallow);
    }

    /** The job keeps one set of deep features: its manager's arrays do not grow with the steps. */
    @Test
    void cachedFeaturesDoNotPileUp() {
        GenerationRequest request = request().steps(12).cacheInterval(2).build();
        try (GenerationJob job = pipeline.start(request, SeededNoise.consecutive(request.seed(), 1), GenerationListener.NONE, () -> false)) {
            List<Integer> arrays = new ArrayList<>();
            while (!job.isFinished()) {
                pipeline.step(List.of(job));
                arrays.add(((BaseNDManager) job.manager).getManagedArrays().size());
            }
            // from the second step on (sampler history and features in place), the count stays put
            assertEquals(1, arrays.subList(2, arrays.size()).stream().distinct().count(), "arrays per step: " + arrays);
        }
    }

    /** Jobs sharing calls (stacked contexts and deep features) keep bounded managers too. */
    @Test
    void sharedStepsLeaveNothingInTheJobsManagers() {
        GenerationRequest first = request().steps(12).cacheInterval(2).build();
        GenerationRequest second = request().steps(12).cacheInterval(3).seed(5).build();
        try (GenerationJob a = pipeline.start(first, SeededNoise.consecutive(first.seed(), 1), GenerationListener.NONE, () -> false);
             GenerationJob b = pipeline.start(second, SeededNoise.consecutive(second.seed(), 1), GenerationListener.NONE, () -> false)) {
            List<List<Integer>> arrays = new ArrayList<>();
            while (!a.isFinished()) {
                pipeline.step(List.of(a, b));
                arrays.add(List.of(((BaseNDManager) a.manager).getManagedArrays().size(),
                        ((BaseNDManager) b.manager).getManagedArrays().size()));
            }
            assertEquals(1, arrays.subList(2, arrays.size()).stream().distinct().count(), "arrays per step: " + arrays);
        }
    }

    @Test
    void theIntervalMustLieBetweenOneAndTheSteps() {
        InvalidRequestException zero = assertThrows(InvalidRequestException.class, () -> request().cacheInterval(0).build());
        assertEquals("cache_interval", zero.field());
        InvalidRequestException tooLong = assertThrows(InvalidRequestException.class, () -> request().steps(8).cacheInterval(9).build());
        assertEquals("cache_interval", tooLong.field());
        assertTrue(tooLong.getMessage().contains("between 1"), tooLong.getMessage());
        assertEquals(8, request().steps(8).cacheInterval(8).build().cacheInterval());
        assertEquals(3, request().cacheInterval(3).build().toBuilder().build().cacheInterval());
    }

    /** Mean absolute difference over every colour channel of every pixel, in 8-bit levels. */
    static double meanLevelDifference(BufferedImage a, BufferedImage b) {
        long sum = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) {
                    sum += Math.abs(((p >> shift) & 0xff) - ((q >> shift) & 0xff));
                }
            }
        }
        return sum / (3.0 * a.getWidth() * a.getHeight());
    }
}
