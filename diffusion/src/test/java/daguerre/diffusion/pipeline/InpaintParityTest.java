package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.sampling.ModelCall;
import daguerre.diffusion.sampling.RecordedNoise;
import daguerre.diffusion.sampling.Sampler;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.SafetensorsFile;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline's inpainting reproduces diffusers' StableDiffusionInpaintPipeline runs in {@code inpaint_tiny}
 * (9-channel inpainting U-Net and the legacy 4-channel blending, each strength): timesteps, mask and masked-image
 * latents, the first U-Net input and output, every step's latents and the image before paste-back, with the
 * recorded draws fed in the recorded order. The mask is the case's (binary, so mask blur 0 = diffusers' processing).
 */
class InpaintParityTest {

    @TempDir
    Path temp;

    @TestFactory
    Stream<DynamicTest> everyRecordedRun() throws Exception {
        JsonNode summary = Golden.json(InpaintGolden.CASE, "summary.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = summary.get("runs").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> run = it.next();
            tests.add(DynamicTest.dynamicTest(run.getKey(), () -> checkRun(run.getKey(), run.getValue(), summary)));
        }
        assertTrue(!tests.isEmpty(), "summary.json lists no runs");
        return tests.stream();
    }

    private void checkRun(String name, JsonNode run, JsonNode summary) throws Exception {
        InpaintGolden.Call call = InpaintGolden.Call.fromReadme();
        Path folder = InpaintGolden.modelFolder(temp, name, run, summary);
        boolean maskInput = run.get("in_channels").asInt() != 4;
        Map<String, Double> observed = GoldenPipelineRuns.observed(run);
        try (StableDiffusionModel model = StableDiffusionModel.load(folder, null, new ModelHasher());
             SafetensorsFile golden = Golden.tensors(InpaintGolden.CASE, name + ".safetensors");
             NDManager manager = model.manager().newSubManager()) {
            assertEquals(run.get("in_channels").asInt(), model.unet().config().inChannels());
            long[] imageShape = golden.info("image").shape(); // [1, H, W, 3]
            BufferedImage init = InpaintGolden.image();
            GenerationRequest request = GenerationRequest.builder(call.prompt()).negativePrompt(call.negativePrompt())
                    .sampler(Sampler.fromName(call.scheduler())).steps(run.get("scheduler_timesteps").size())
                    .guidanceScale(call.guidanceScale()).size((int) imageShape[2], (int) imageShape[1])
                    .initImage(init, run.get("strength").asDouble())
                    .inpaint(InpaintOptions.of(InpaintGolden.mask()).withMaskBlur(0)).build();
            RecordedNoise noise = InpaintGolden.recordedNoise(golden, run);
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            Map<String, Double> errors = new TreeMap<>();
            try (GenerationJob job = pipeline.start(request, noise, GenerationListener.NONE, () -> false)) {
                // timesteps run: exact
                double[] all = job.state.schedule().timesteps();
                double[] ran = Arrays.copyOfRange(all, job.state.startIndex(), job.state.schedule().modelCalls());
                assertArrayEquals(golden.doubles("timesteps"), ran, 0.0, "timesteps");
                assertArrayEquals(golden.doubles("scheduler_timesteps"), all, 0.0, "scheduler_timesteps");
                errors.put("latents_init", Parity.assertClose(golden, "latents_init", job.state.latents(),
                        10 * observed.get("latents_init") + 1e-7));
                if (maskInput) {
                    NDArray extra = job.unetExtraChannels; // [B, 1 + C, h, w]
                    Parity.assertClose(golden, "mask_latents", extra.get(new NDIndex(":, 0:1")), 0.0);
                    errors.put("masked_image_latents", Parity.assertClose(golden, "masked_image_latents",
                            extra.get(new NDIndex(":, 1:")), 10 * observed.get("masked_image_latents")));
                }
                // step 0: the U-Net's input (doubled for guidance) and its output
                double inputTolerance = 10 * Math.max(observed.get("latents_init"),
                        maskInput ? observed.get("masked_image_latents") : 0) + 1e-7;
                try (NDManager step = manager.newSubManager()) {
                    ModelCall modelCall = job.state.modelCall(step);
                    NDArray input = job.unetInput(modelCall.input());
                    NDArray doubled = input.concat(input, 0);
                    errors.put("unet_step0_latent_model_input", Parity.assertClose(golden, "unet_step0_latent_model_input",
                            doubled, inputTolerance));
                    NDArray noisePred = model.unet().forward(doubled, new float[] {(float) modelCall.timestep(), (float) modelCall.timestep()},
                            job.conditioning);
                    errors.put("unet_step0_noise_pred", Parity.assertClose(golden, "unet_step0_noise_pred", noisePred,
                            10 * observed.get("unet_step0_noise_pred")));
                }
                double latentTolerance = 10 * observed.get("final_latents");
                for (int i = 0; !job.isFinished(); i++) {
                    pipeline.step(List.of(job));
                    errors.merge("step_latents", Parity.assertClose(golden, String.format("step%02d_latents", i),
                            job.state.latents(), latentTolerance), Math::max);
                }
                if (run.has("final_latents_equal_image_latents_outside_mask")
                        && run.get("final_latents_equal_image_latents_outside_mask").asBoolean() && golden.contains("image_latents")) {
                    NDArray imageLatents = Parity.load(golden, "image_latents", manager);
                    NDArray keep = Parity.load(golden, "mask_latents", manager).neg().add(1);
                    double outside = job.state.result().sub(imageLatents).mul(keep).abs().max().getFloat();
                    assertTrue(outside <= 10 * observed.getOrDefault("image_latents", observed.get("final_latents")), "final latents outside the mask differ from "
                            + "the image latents by " + outside);
                }
                List<GeneratedImage> images = pipeline.finishWithoutOverlay(job);
                errors.put("image_levels", (double) GoldenPipelineRuns.assertImageClose(golden.floats("image"), imageShape,
                        images.get(0).image()));
            }
            // a U-Net without mask input never sees the masked image: diffusers' last VAE draw is left over
            assertEquals(noise.recorded() - (maskInput ? 0 : 1), noise.drawn(), "draws consumed");
            System.out.println(name + " max abs errors: " + errors);
        }
    }
}
