package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.sampling.Sampler;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.model.ConfigInference;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.TensorSource;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Inpainting for real requests on the {@code inpaint_tiny} models: A1111's paste-back keeps the original
 * outside the blurred mask, "only masked" pastes its box back into the full image, the fill modes, the
 * infotext fields, validation, and the 9-channel U-Net in the original single-file layout.
 */
class InpaintBehaviourTest {

    private static Path dir;
    private static StableDiffusionModel nine;
    private static StableDiffusionModel four;
    private static InpaintGolden.Call call;
    private static BufferedImage init;
    private static BufferedImage mask;
    private static int[] maskValues;

    @BeforeAll
    static void load() throws Exception {
        dir = Files.createTempDirectory("daguerre-inpaint-test");
        JsonNode summary = Golden.json(InpaintGolden.CASE, "summary.json");
        JsonNode nineRun = null;
        JsonNode fourRun = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = summary.get("runs").fields(); it.hasNext(); ) {
            JsonNode run = it.next().getValue();
            if (run.get("in_channels").asInt() == 4) {
                fourRun = run;
            } else {
                nineRun = run;
            }
        }
        nine = StableDiffusionModel.load(InpaintGolden.modelFolder(dir, "nine", nineRun, summary), null, new ModelHasher());
        four = StableDiffusionModel.load(InpaintGolden.modelFolder(dir, "four", fourRun, summary), null, new ModelHasher());
        call = InpaintGolden.Call.fromReadme();
        init = InpaintGolden.image();
        mask = InpaintGolden.mask();
        maskValues = InpaintGolden.maskValues();
    }

    @AfterAll
    static void close() {
        nine.close();
        four.close();
    }

    private static GenerationRequest.Builder request(InpaintOptions options, double strength) {
        return GenerationRequest.builder(call.prompt()).negativePrompt(call.negativePrompt()).sampler(Sampler.DDIM).steps(6)
                .guidanceScale(call.guidanceScale()).seed(77).size(init.getWidth(), init.getHeight())
                .initImage(init, strength).inpaint(options);
    }

    private static GeneratedImage run(StableDiffusionModel model, GenerationRequest request) {
        List<GeneratedImage> images = new StableDiffusionPipeline(model).generate(request, GenerationListener.NONE, () -> false);
        assertEquals(request.batchSize(), images.size());
        return images.get(0);
    }

    private static int levelDifference(int a, int b) {
        int worst = 0;
        for (int shift = 0; shift <= 16; shift += 8) {
            worst = Math.max(worst, Math.abs(((a >> shift) & 0xff) - ((b >> shift) & 0xff)));
        }
        return worst;
    }

    /** Checks that pixels where {@code outside} holds equal the init image within a level, and that some pixel inside changed. */
    private static void assertPastedBack(BufferedImage image, java.util.function.IntPredicate outside) {
        assertEquals(init.getWidth(), image.getWidth());
        assertEquals(init.getHeight(), image.getHeight());
        int kept = 0;
        int changed = 0;
        for (int y = 0; y < init.getHeight(); y++) {
            for (int x = 0; x < init.getWidth(); x++) {
                int d = levelDifference(init.getRGB(x, y), image.getRGB(x, y));
                if (outside.test(y * init.getWidth() + x)) {
                    assertTrue(d <= 1, "pixel (" + x + ", " + y + ") outside the mask differs by " + d + " levels");
                    kept++;
                } else if (d > 1) {
                    changed++;
                }
            }
        }
        assertTrue(kept > 0, "no pixel lies outside the mask");
        assertTrue(changed > 0, "nothing was repainted inside the mask");
    }

    @ParameterizedTest
    @EnumSource(value = InpaintOptions.Fill.class)
    void everyPixelOutsideTheBlurredMaskIsTheInitImage(InpaintOptions.Fill fill) {
        int blur = 2;
        InpaintOptions options = InpaintOptions.of(mask).withMaskBlur(blur).withFill(fill);
        for (StableDiffusionModel model : List.of(nine, four)) {
            GeneratedImage image = run(model, request(options, 0.75).build());
            int[] blurred = InpaintMasks.blur(maskValues, init.getWidth(), init.getHeight(), blur);
            assertPastedBack(image.image(), i -> blurred[i] == 0);
            // independently of the blur's code: beyond the kernel's reach from the mask nothing changes
            int reach = (int) (2.5 * blur + 0.5);
            int w = init.getWidth();
            assertPastedBack(image.image(), i -> farFromMask(i % w, i / w, reach));
            assertEquals("2", image.infotext().parameters().get("Mask blur"));
            assertEquals(fill == InpaintOptions.Fill.ORIGINAL ? null : fill.a1111Name(),
                    image.infotext().parameters().get("Masked content"));
            assertFalse(image.infotext().parameters().containsKey("Inpaint area"));
        }
    }

    private static boolean farFromMask(int x, int y, int reach) {
        int w = init.getWidth();
        int h = init.getHeight();
        for (int dy = -reach; dy <= reach; dy++) {
            for (int dx = -reach; dx <= reach; dx++) {
                int xx = x + dx;
                int yy = y + dy;
                if (xx >= 0 && yy >= 0 && xx < w && yy < h && maskValues[yy * w + xx] != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    @Test
    void onlyMaskedPastesItsBoxBackIntoTheFullImage() {
        InpaintOptions options = InpaintOptions.of(mask).withMaskBlur(0).withFullRes(true, 2);
        for (StableDiffusionModel model : List.of(nine, four)) {
            GeneratedImage image = run(model, request(options, 1.0).build());
            assertPastedBack(image.image(), i -> maskValues[i] == 0);
            Map<String, String> params = image.infotext().parameters();
            assertEquals("Only masked", params.get("Inpaint area"));
            assertEquals("2", params.get("Masked area padding"));
            assertFalse(params.containsKey("Mask blur"), "no blur, no Mask blur field (A1111's processing)");
            // the box was generated at the request's size: it differs from the whole-picture result
            GeneratedImage whole = run(model, request(options.withFullRes(false, 2), 1.0).build());
            assertTrue(daguerre.diffusion.testing.Images.maxLevelDifference(whole.image(), image.image()) > 1);
        }
    }

    @Test
    void inpaintingAndHiresLeaveNothingBehindAndStepsDoNotGrowTheJob() {
        for (StableDiffusionModel model : List.of(nine, four)) {
            int weights = model.manager().getManagedArrays().size();
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            run(model, request(InpaintOptions.of(mask).withFullRes(true, 4), 0.75).build());
            run(model, GenerationRequest.builder(call.prompt()).steps(3).size(16, 16)
                    .hiresFix(HiresFix.scaled(2, "Lanczos").withDenoisingStrength(0.7)).build());
            assertEquals(weights, model.manager().getManagedArrays().size(), "requests leave nothing in the model's manager");
            try (GenerationJob job = pipeline.start(request(InpaintOptions.of(mask), 1.0).steps(8).build(),
                    daguerre.diffusion.sampling.SeededNoise.consecutive(3, 1), GenerationListener.NONE, () -> false)) {
                pipeline.step(List.of(job));
                int afterFirst = job.manager.getManagedArrays().size();
                while (!job.isFinished()) {
                    pipeline.step(List.of(job));
                    assertEquals(afterFirst, job.manager.getManagedArrays().size(), "arrays kept per step");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Sampler.class)
    void everySamplerInpaintsWithBothKindsOfUnet(Sampler sampler) {
        for (StableDiffusionModel model : List.of(nine, four)) {
            for (double strength : new double[] {1.0, 0.6}) {
                GeneratedImage image = run(model, request(InpaintOptions.of(mask).withMaskBlur(0), strength).sampler(sampler).build());
                assertPastedBack(image.image(), i -> maskValues[i] == 0);
            }
        }
    }

    @Test
    void inpaintingJobsShareUnetCalls() {
        for (StableDiffusionModel model : List.of(nine, four)) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            GenerationRequest a = request(InpaintOptions.of(mask), 0.75).seed(1).build();
            GenerationRequest b = request(InpaintOptions.of(mask).withInvert(true), 1.0).seed(2).batchSize(2).build();
            GenerationRequest c = GenerationRequest.builder(call.prompt()).sampler(Sampler.DDIM).steps(5).seed(3)
                    .size(init.getWidth(), init.getHeight()).build();
            List<GenerationRequest> requests = List.of(a, b, c);
            List<GenerationJob> jobs = new ArrayList<>();
            try {
                for (GenerationRequest r : requests) {
                    jobs.add(pipeline.start(r, daguerre.diffusion.sampling.SeededNoise.consecutive(r.seed(), r.batchSize()),
                            GenerationListener.NONE, () -> false));
                }
                int shared = 0;
                while (jobs.stream().anyMatch(j -> !j.isFinished())) {
                    List<GenerationJob> running = jobs.stream().filter(j -> !j.isFinished()).toList();
                    shared += running.size() > 1 ? 1 : 0;
                    pipeline.step(running);
                }
                assertTrue(shared > 0);
                for (int i = 0; i < jobs.size(); i++) {
                    List<GeneratedImage> together = pipeline.finish(jobs.get(i));
                    List<GeneratedImage> alone = pipeline.generate(requests.get(i), GenerationListener.NONE, () -> false);
                    for (int k = 0; k < alone.size(); k++) {
                        assertTrue(daguerre.diffusion.testing.Images.maxLevelDifference(alone.get(k).image(),
                                together.get(k).image()) <= 2, "job " + i + " image " + k);
                        assertEquals(alone.get(k).infotext(), together.get(k).infotext());
                    }
                }
            } finally {
                jobs.forEach(GenerationJob::close);
            }
        }
    }

    @Test
    void invertedMaskRepaintsTheRestAndSaysSo() {
        GeneratedImage image = run(nine, request(InpaintOptions.of(mask).withMaskBlur(0).withInvert(true), 0.75).build());
        assertPastedBack(image.image(), i -> maskValues[i] != 0);
        assertEquals("Inpaint not masked", image.infotext().parameters().get("Mask mode"));
    }

    @Test
    void aBatchPastesEveryImageBack() {
        List<GeneratedImage> images = new StableDiffusionPipeline(nine).generate(
                request(InpaintOptions.of(mask).withMaskBlur(0), 0.75).batchSize(2).build(), GenerationListener.NONE, () -> false);
        assertEquals(2, images.size());
        for (GeneratedImage image : images) {
            assertPastedBack(image.image(), i -> maskValues[i] == 0);
        }
        assertTrue(daguerre.diffusion.testing.Images.maxLevelDifference(images.get(0).image(), images.get(1).image()) > 1);
    }

    @Test
    void anInpaintingUnetAlsoRunsTextToImage() {
        GeneratedImage image = run(nine, GenerationRequest.builder(call.prompt()).steps(3).size(16, 24).build());
        assertEquals(16, image.image().getWidth());
        assertEquals(24, image.image().getHeight());
        GeneratedImage hires = run(nine, GenerationRequest.builder(call.prompt()).steps(3).size(16, 24)
                .hiresFix(HiresFix.scaled(2, "Latent").withDenoisingStrength(0.5)).build());
        assertEquals(32, hires.image().getWidth());
        assertEquals(48, hires.image().getHeight());
    }

    @Test
    void badInpaintingRequestsNameTheirField() {
        assertEquals("mask", assertThrows(InvalidRequestException.class, () -> GenerationRequest.builder("x")
                .inpaint(InpaintOptions.of(mask)).build()).field());
        BufferedImage small = new BufferedImage(init.getWidth() / 2, init.getHeight(), BufferedImage.TYPE_INT_RGB);
        InvalidRequestException size = assertThrows(InvalidRequestException.class, () -> GenerationRequest.builder("x")
                .initImage(init, 0.5).inpaint(InpaintOptions.of(small)).build());
        assertEquals("mask", size.field());
        assertTrue(size.getMessage().contains(init.getWidth() + "x" + init.getHeight()), size.getMessage());
        assertEquals("mask_blur", assertThrows(InvalidRequestException.class,
                () -> InpaintOptions.of(mask).withMaskBlur(-1)).field());
        assertEquals("inpaint_full_res_padding", assertThrows(InvalidRequestException.class,
                () -> InpaintOptions.of(mask).withFullRes(true, InpaintOptions.MAX_PADDING + 1)).field());
        assertEquals("inpainting_fill", assertThrows(InvalidRequestException.class,
                () -> InpaintOptions.Fill.fromA1111Index(4)).field());
        assertEquals(InpaintOptions.Fill.LATENT_NOTHING, InpaintOptions.Fill.fromA1111Index(3));
        assertEquals("mask", assertThrows(InvalidRequestException.class,
                () -> new InpaintOptions(null, 4, false, InpaintOptions.Fill.ORIGINAL, false, 32)).field());
    }

    @Test
    void aNineChannelUnetLoadsFromTheOriginalSingleFileLayout() throws Exception {
        JsonNode summary = Golden.json(InpaintGolden.CASE, "summary.json");
        JsonNode expected = Golden.json(InpaintGolden.CASE, "config.json");
        try (SafetensorsFile file = Golden.tensors(InpaintGolden.CASE, "unet9_original.safetensors");
             NDManager manager = nine.manager().newSubManager()) {
            assertEquals(9, file.shape("model.diffusion_model.input_blocks.0.0.weight")[1]);
            TensorSource renamed = OriginalLayouts.unet(file);
            // what a single file's loader infers from the tensors (the rest follows SD's conventions, not this toy's)
            JsonNode inferred = ConfigInference.unet(renamed, "epsilon");
            for (String field : new String[] {"in_channels", "out_channels", "block_out_channels", "layers_per_block",
                    "cross_attention_dim"}) {
                assertEquals(expected.get(field), inferred.get(field), field);
            }
            UNetConfig config = UNetConfig.fromJson(expected);
            UNet2DConditionModel unet = new UNet2DConditionModel(config);
            WeightLoader.load(unet, renamed, "", manager);
            // the golden step-0 call of every run with an inpainting U-Net, through the original layout's weights
            int checked = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = summary.get("runs").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> run = it.next();
                if (run.getValue().get("in_channels").asInt() != config.inChannels()) {
                    continue;
                }
                try (SafetensorsFile golden = Golden.tensors(InpaintGolden.CASE, run.getKey() + ".safetensors")) {
                    NDArray x = Parity.load(golden, "unet_step0_latent_model_input", manager);
                    NDArray context = Parity.load(golden, "negative_prompt_embeds", manager)
                            .concat(Parity.load(golden, "prompt_embeds", manager), 0);
                    float t = (float) golden.doubles("timesteps")[0];
                    NDArray out = unet.forward(x, new float[] {t, t}, context);
                    double observed = GoldenPipelineRuns.observed(run.getValue()).get("unet_step0_noise_pred");
                    Parity.assertClose(golden, "unet_step0_noise_pred", out, 10 * observed);
                    checked++;
                }
            }
            assertTrue(checked > 0, "no run uses the inpainting U-Net");
        }
    }
}
