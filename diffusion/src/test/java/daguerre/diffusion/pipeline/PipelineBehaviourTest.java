package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Behaviour of the pipeline on the tiny golden model: seeds, batches, guidance, image-to-image, cancellation, memory. */
class PipelineBehaviourTest {

    private static final String PROMPT = "a photo of an astronaut riding a horse";

    private static Path folder;
    private static StableDiffusionModel model;
    private static StableDiffusionPipeline pipeline;

    @BeforeAll
    static void load() throws Exception {
        folder = Files.createTempDirectory("daguerre-pipeline-test");
        model = StableDiffusionModel.load(TinyModelFolder.create(folder, "tiny"), null, new ModelHasher());
        pipeline = new StableDiffusionPipeline(model);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder(PROMPT).negativePrompt("blurry").steps(6).seed(1234);
    }

    private static List<GeneratedImage> run(GenerationRequest request) {
        return pipeline.generate(request, GenerationListener.NONE, () -> false);
    }


    @Test
    void imageIOfABatchEqualsTheSingleImageWithSeedPlusI() {
        List<GeneratedImage> batch = run(request().batchSize(3).build());
        assertEquals(3, batch.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(1234 + i, batch.get(i).seed());
            GeneratedImage single = run(request().seed(1234 + i).build()).get(0);
            assertTrue(Images.maxLevelDifference(single.image(), batch.get(i).image()) <= 2, "image " + i + " differs from its single run");
        }
        assertTrue(Images.maxLevelDifference(batch.get(0).image(), batch.get(1).image()) > 10, "different seeds give different images");
    }

    @Test
    void sameSeedSameImage() {
        BufferedImage first = run(request().build()).get(0).image();
        BufferedImage second = run(request().build()).get(0).image();
        assertEquals(0, Images.maxLevelDifference(first, second));
    }

    @ParameterizedTest
    @EnumSource(Sampler.class)
    void everySamplerGeneratesAnImageOfTheModelsDefaultSize(Sampler sampler) {
        AtomicInteger steps = new AtomicInteger();
        GenerationRequest request = request().sampler(sampler).steps(4).build();
        GeneratedImage image = pipeline.generate(request, (step, total, preview) -> steps.set(step), () -> false).get(0);
        assertEquals(model.defaultImageSize(), image.image().getWidth());
        assertEquals(sampler == Sampler.PNDM ? 5 : 4, steps.get(), "steps reported");
    }

    @Test
    void guidanceSettingsChangeTheImage() {
        BufferedImage guided = run(request().build()).get(0).image();
        BufferedImage unguided = run(request().guidanceScale(1).build()).get(0).image();
        BufferedImage rescaled = run(request().guidanceRescale(0.7).build()).get(0).image();
        assertTrue(Images.maxLevelDifference(guided, unguided) > 0);
        assertTrue(Images.maxLevelDifference(guided, rescaled) > 0);
    }

    @Test
    void imageToImageRunsTheTailOfTheScheduleFromTheInitImage() {
        BufferedImage init = run(request().build()).get(0).image();
        BufferedImage otherInit = run(request().seed(4321).build()).get(0).image();
        for (double strength : new double[] {0.1, 0.5, 0.9}) {
            AtomicInteger total = new AtomicInteger();
            GenerationRequest img2img = request().steps(10).initImage(init, strength).seed(99).build();
            GeneratedImage out = pipeline.generate(img2img, (step, steps, preview) -> total.set(steps), () -> false).get(0);
            assertEquals((int) (10 * strength), total.get(), "steps run at strength " + strength);
            assertEquals(Infotext.number(strength), out.infotext().parameters().get("Denoising strength"));
            BufferedImage fromOther = run(request().steps(10).initImage(otherInit, strength).seed(99).build()).get(0).image();
            assertTrue(Images.maxLevelDifference(out.image(), fromOther) > 0, "the init image matters at strength " + strength);
        }
        // a differently sized init image is resized to the requested size
        GeneratedImage resized = run(request().steps(4).size(48, 32).initImage(init, 0.5).build()).get(0);
        assertEquals(48, resized.image().getWidth());
        assertEquals(32, resized.image().getHeight());
    }

    /**
     * A pipeline with VAE tiling on decodes in tiles (here 4 latent px overlapping by 2, smaller than
     * the tiny model's latents) and encodes image-to-image's init image in tiles: the images change a
     * little, the infotext not at all (A1111 records nothing about tiled VAE either).
     */
    @Test
    void vaeTilingChangesTheDecodeAndEncodeButNotTheInfotext() {
        StableDiffusionPipeline tiled = new StableDiffusionPipeline(model, new VaeTiling(VaeTiling.Mode.ON, 4, 2));
        assertEquals(VaeTiling.AUTO, pipeline.vaeTiling());
        GenerationRequest textToImage = request().build();
        GeneratedImage whole = run(textToImage).get(0);
        GeneratedImage tiles = tiled.generate(textToImage, GenerationListener.NONE, () -> false).get(0);
        assertTrue(Images.maxLevelDifference(whole.image(), tiles.image()) > 0, "tiles of 4 must tile the decode");
        assertEquals(whole.infotext(), tiles.infotext());

        GenerationRequest imageToImage = request().steps(4).initImage(whole.image(), 0.5).seed(7).build();
        GeneratedImage fromWhole = run(imageToImage).get(0);
        GeneratedImage fromTiles = tiled.generate(imageToImage, GenerationListener.NONE, () -> false).get(0);
        assertTrue(Images.maxLevelDifference(fromWhole.image(), fromTiles.image()) > 0);
        assertEquals(fromWhole.infotext(), fromTiles.infotext());
        // the default (auto) leaves the tiny model's small images untiled: the same pipeline twice, bit for bit
        assertEquals(0, Images.maxLevelDifference(whole.image(),
                new StableDiffusionPipeline(model, VaeTiling.OFF).generate(textToImage, GenerationListener.NONE, () -> false).get(0).image()));
    }

    @Test
    void cancellationStopsBetweenSteps() {
        AtomicInteger steps = new AtomicInteger();
        assertThrows(CancellationException.class, () -> pipeline.generate(request().steps(10).build(),
                (step, total, preview) -> steps.set(step), () -> steps.get() >= 3));
        assertEquals(3, steps.get());
    }

    @Test
    void pngCarriesTheParametersAndPreviewsRender() throws Exception {
        List<BufferedImage> previews = new ArrayList<>();
        GenerationRequest request = request().clipSkip(2).build();
        GeneratedImage image = pipeline.generate(request, (step, total, preview) -> previews.addAll(preview.get()), () -> false).get(0);
        byte[] png = image.png();
        String parameters = PngText.read(png).get("parameters");
        assertEquals(image.infotext().format(), parameters);
        Infotext parsed = Infotext.parse(parameters);
        assertEquals(PROMPT, parsed.prompt());
        assertEquals("blurry", parsed.negativePrompt());
        assertEquals("1234", parsed.parameters().get("Seed"));
        assertEquals("Euler a", parsed.parameters().get("Sampler"));
        assertEquals("2", parsed.parameters().get("Clip skip"));
        assertEquals(model.hash(), parsed.parameters().get("Model hash"));
        assertEquals(image.image().getRGB(5, 7), ImageIO.read(new ByteArrayInputStream(png)).getRGB(5, 7));
        assertEquals(6, previews.size());
    }

    @Test
    void longPromptsAreChunkedAndEmphasisChangesTheImage() {
        String longPrompt = (PROMPT + ", ").repeat(12) + "horse";
        assertTrue(model.tokenizer().tokenIds(longPrompt).length > 75);
        GeneratedImage chunked = run(GenerationRequest.builder(longPrompt).steps(4).seed(5).build()).get(0);
        assertEquals(model.defaultImageSize(), chunked.image().getWidth());
        BufferedImage plain = run(GenerationRequest.builder("a photo of an astronaut").steps(4).seed(5).build()).get(0).image();
        BufferedImage emphasised = run(GenerationRequest.builder("a photo of an (astronaut:1.5)").steps(4).seed(5).build()).get(0).image();
        assertTrue(Images.maxLevelDifference(plain, emphasised) > 0);
    }

    @Test
    void badSizesAreRefusedWithTheFieldNamed() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> request().size(30, 64).build());
        assertEquals("width", e.field());
        // the tiny VAE downsamples by 2, so 8-multiples are fine; the request itself refuses non-multiples of 8
        assertEquals(64, run(request().size(64, 48).build()).get(0).image().getWidth());
    }

    @Test
    void memoryStaysFlatOverManyGenerations() throws Exception {
        int weights = model.manager().getManagedArrays().size();
        GenerationRequest request = request().steps(4).build();
        // 50 generations; the first 10 warm up the allocators
        for (int i = 0; i < 10; i++) {
            run(request);
        }
        long nativeAfterWarmup = nativeBytes();
        for (int i = 0; i < 40; i++) {
            run(request);
        }
        long growth = nativeBytes() - nativeAfterWarmup;
        assertEquals(weights, model.manager().getManagedArrays().size(), "requests leave nothing in the model's manager");
        assertTrue(growth < 32L << 20, "native memory grew by " + (growth >> 20) + " MiB over 40 generations");
    }

    /**
     * Resident memory outside the Java heap: VmRSS less the committed heap, which surefire's
     * -XX:+AlwaysPreTouch makes resident as soon as it is committed.
     */
    private static long nativeBytes() throws Exception {
        System.gc();
        return residentBytes() - Runtime.getRuntime().totalMemory();
    }

    /** VmRSS of this process (Linux). */
    private static long residentBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
