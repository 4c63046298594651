package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.sampling.ModelCall;
import daguerre.diffusion.sampling.RecordedNoise;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.sampling.SamplerState;
import daguerre.diffusion.sampling.SamplingPlan;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: the tiny pipeline assembled from the golden parts reproduces diffusers'
 * StableDiffusionPipeline runs in {@code pipeline_tiny} (prompt embeddings, first U-Net call, every
 * step's latents, the decoder output and the final image), with the recorded noise fed in.
 */
class PipelineParityTest {

    private static final String CASE = "pipeline_tiny";

    @TempDir
    Path temp;

    @TestFactory
    Stream<DynamicTest> everyRecordedRun() throws Exception {
        JsonNode summary = Golden.json(CASE, "summary.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = summary.get("runs").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> run = it.next();
            tests.add(DynamicTest.dynamicTest(run.getKey(), () -> checkRun(run.getKey(), run.getValue(), summary)));
        }
        assertTrue(!tests.isEmpty(), "summary.json lists no runs");
        return tests.stream();
    }

    private void checkRun(String name, JsonNode run, JsonNode summary) throws Exception {
        GoldenPipelineRuns.Call call = GoldenPipelineRuns.Call.fromReadme(CASE);
        Path folder = TinyModelFolder.create(temp, name);
        JsonNode schedulerConfig = summary.get("scheduler_configs").get(run.get("scheduler").asText());
        new ObjectMapper().writeValue(folder.resolve("scheduler/scheduler_config.json").toFile(), schedulerConfig);

        try (StableDiffusionModel model = StableDiffusionModel.load(folder, null, new ModelHasher());
             SafetensorsFile golden = Golden.tensors(CASE, name + ".safetensors");
             NDManager manager = model.manager().newSubManager()) {
            String negative = run.get("negative_prompt").isNull() ? "" : run.get("negative_prompt").asText();
            Sampler sampler = Sampler.fromName(run.get("scheduler").asText());
            int steps = run.get("num_unet_calls").asInt();
            long[] imageShape = golden.info("image").shape(); // [1, H, W, 3]
            GenerationRequest request = GenerationRequest.builder(call.prompt()).negativePrompt(negative).sampler(sampler)
                    .steps(steps).guidanceScale(call.guidanceScale())
                    .size((int) imageShape[2], (int) imageShape[1]).build();
            Map<String, Double> observed = GoldenPipelineRuns.observed(run);

            // 1. Token ids and prompt embeddings.
            int idLength = Math.toIntExact(golden.info("prompt_input_ids").shape()[1]);  // [1, model_max_length]
            assertEquals(toList(golden.longs("prompt_input_ids")), toList(model.tokenizer().encode(call.prompt(), idLength)));
            assertEquals(toList(golden.longs("negative_input_ids")), toList(model.tokenizer().encode(negative, idLength)));
            PromptEncoder encoder = new PromptEncoder(model.tokenizer(), model.textEncoder(), PromptEncoder.Options.DEFAULTS);
            List<NDArray> contexts = encoder.encodeSameLength(List.of(negative, call.prompt()), manager);
            Map<String, Double> errors = new java.util.TreeMap<>();
            errors.put("prompt_embeds", Parity.assertClose(golden, "prompt_embeds", contexts.get(1), 10 * observed.get("prompt_embeds")));
            Parity.assertClose(golden, "negative_prompt_embeds", contexts.get(0), 10 * observed.get("prompt_embeds"));

            // 2. First U-Net call on the recorded doubled input.
            NDArray step0 = unetCall(model, Parity.load(golden, "unet_step0_latent_model_input", manager),
                    firstTimestep(golden), Parity.load(golden, "unet_step0_encoder_hidden_states", manager));
            errors.put("unet_step0_noise_pred", Parity.assertClose(golden, "unet_step0_noise_pred", step0, 10 * observed.get("unet_step0_noise_pred")));

            // 3. Every step's latents, through the same guidance and sampler classes the pipeline uses.
            NDArray cfgContexts = contexts.get(0).concat(contexts.get(1), 0);
            RecordedNoise noise = GoldenPipelineRuns.recordedNoise(golden, steps);
            NDArray latentsInput = Parity.load(golden, "latents_input", manager);
            SamplerState state = SamplerState.start(SamplingPlan.of(sampler, model.scheduler(), steps),
                    latentsInput.getShape(), noise, manager);
            Parity.assertClose(golden, "latents_init", state.latents(), 1e-6);
            double latentTolerance = 10 * observed.get("final_latents");
            for (int i = 0; !state.isFinished(); i++) {
                try (NDManager step = manager.newSubManager()) {
                    ModelCall modelCall = state.modelCall(step);
                    // [B] -> [2B]: [unconditional; conditional] rows, one U-Net call, then the pipeline's guidance
                    NDArray doubled = modelCall.input().concat(modelCall.input(), 0);
                    NDArray output = ClassifierFreeGuidance.combine(unetCall(model, doubled, modelCall.timestep(), cfgContexts),
                            call.guidanceScale(), 0);
                    if (i == 0) {
                        // guided = (1 - s) uncond + s cond: the U-Net's error grows by |1 - s| + s
                        double amplification = Math.abs(1 - call.guidanceScale()) + call.guidanceScale();
                        errors.put("step0_guided_noise_pred", Parity.assertClose(golden, "step0_guided_noise_pred", output,
                                amplification * 10 * observed.get("unet_step0_noise_pred")));
                    }
                    state.advance(output);
                }
                errors.merge("step_latents", Parity.assertClose(golden, String.format("step%02d_latents", i), state.latents(),
                        latentTolerance), Math::max);
            }
            // decoder_input = final latents / scaling factor, so its error is the latents' divided by it
            NDArray decoderInput = state.result().div(model.vae().config().scalingFactor());
            errors.put("decoder_input", Parity.assertClose(golden, "decoder_input", decoderInput,
                    latentTolerance / model.vae().config().scalingFactor()));
            errors.put("decoded_raw", Parity.assertClose(golden, "decoded_raw", model.vae().decode(decoderInput),
                    10 * observed.get("decoded_raw")));

            // 4. The whole pipeline, same noise: its 8-bit image within one level of the reference.
            RecordedNoise pipelineNoise = GoldenPipelineRuns.recordedNoise(golden, steps);
            List<GeneratedImage> images = new StableDiffusionPipeline(model)
                    .generate(request, pipelineNoise, GenerationListener.NONE, () -> false);
            assertEquals(pipelineNoise.recorded(), pipelineNoise.drawn(), "every recorded noise tensor is consumed");
            errors.put("image_levels", (double) GoldenPipelineRuns.assertImageClose(golden.floats("image"), imageShape, images.get(0).image()));
            System.out.println(name + " max abs errors: " + errors);
        }
    }

    /** I64, F32 or F64 timesteps: the first one. */
    private static double firstTimestep(SafetensorsFile golden) throws Exception {
        return golden.doubles("timesteps")[0];
    }




    private static List<Long> toList(long[] values) {
        return java.util.Arrays.stream(values).boxed().toList();
    }

    private static List<Long> toList(int[] values) {
        return java.util.Arrays.stream(values).asLongStream().boxed().toList();
    }


    /** One U-Net call [B, C, h, w] at {@code timestep} (one float32 value broadcast over the batch) on {@code context} [B, T, D]. */
    private static NDArray unetCall(StableDiffusionModel model, NDArray x, double timestep, NDArray context) {
        return model.unet().forward(x, x.getManager().create(new float[] {(float) timestep}), context);
    }
}
