package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.sampling.RecordedNoise;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTextModelWithProjection;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.text.SdxlPromptEncoder;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConditioning;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.weights.Golden;
import daguerre.weights.model.DiscoveredModel;
import daguerre.weights.model.ModelDiscovery;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.TokenizerFiles;
import daguerre.weights.safetensors.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * End to end for SDXL: the tiny SDXL pipeline of {@code pipeline_tiny_xl}, loaded from its diffusers
 * folder and from its SGM single file, reproduces every recorded run of diffusers'
 * StableDiffusionXLPipeline: token ids of both tokenizers, prompt and pooled embeddings (zeros for an
 * absent negative prompt), the micro-conditioning time ids, the first U-Net call, every step's latents
 * and the final image, with the recorded noise fed in.
 */
class PipelineXlParityTest {

    private static final String CASE = "pipeline_tiny_xl";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestFactory
    Stream<DynamicTest> everyRecordedRunInBothLayouts() throws Exception {
        JsonNode summary = Golden.json(CASE, "summary.json");
        Path folder = Golden.caseDir(CASE).resolve("pipeline");
        assertTrue(Files.isRegularFile(folder.resolve("model_index.json")), "golden folder missing: " + folder);
        Path singleFile = Golden.file(CASE, "model_original.safetensors");
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = summary.get("runs").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> run = it.next();
            tests.add(DynamicTest.dynamicTest(run.getKey() + " (diffusers folder)", () -> checkRun(folder, run.getKey(), run.getValue())));
            tests.add(DynamicTest.dynamicTest(run.getKey() + " (single file)", () -> checkRun(singleFile, run.getKey(), run.getValue())));
        }
        assertTrue(!tests.isEmpty(), "summary.json lists no runs");
        return tests.stream();
    }

    /**
     * The model at {@code modelPath}. A single file's weights come through its SGM layout as discovery
     * renames them; but a single file carries no tokenizer or config, and what Daguerre assumes for real
     * ones (the CLIP vocabulary, SDXL's conventions) does not fit this toy, so the folder's tokenizers and
     * configs are used with them.
     */
    private static StableDiffusionModel load(Path modelPath) throws Exception {
        if (Files.isDirectory(modelPath)) {
            return StableDiffusionModel.load(modelPath, null, new ModelHasher());
        }
        Path folder = Golden.caseDir(CASE).resolve("pipeline");
        NDManager manager = daguerre.diffusion.DjlRuntime.newManager();
        try (DiscoveredModel file = ModelDiscovery.open(modelPath)) {
            assertEquals(DiscoveredModel.Family.SDXL, file.family());
            ClipTextModel text = new ClipTextModel(ClipTextConfig.fromJson(config(folder, "text_encoder/config.json")));
            text.load(file.textEncoder().weights(), "", manager);
            DiscoveredModel.SecondTextEncoder found = file.secondTextEncoder().orElseThrow();
            ClipTextModelWithProjection text2 = new ClipTextModelWithProjection(
                    ClipTextConfig.fromJson(config(folder, "text_encoder_2/config.json")));
            text2.load(found.encoder().weights(), "", manager);
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(config(folder, "unet/config.json")));
            WeightLoader.load(unet, file.unet().weights(), "", manager);
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.fromJson(config(folder, "vae/config.json")));
            WeightLoader.load(vae, file.vae().weights(), "", manager);
            return StableDiffusionModel.ofSdxl(file.id(), "single", manager,
                    StableDiffusionModel.loadTokenizer(TokenizerFiles.folder(folder.resolve("tokenizer"))), text,
                    new StableDiffusionModel.SecondTextEncoder(StableDiffusionModel.loadTokenizer(
                            TokenizerFiles.folder(folder.resolve("tokenizer_2"))), text2, found.forceZerosForEmptyPrompt()),
                    unet, vae, SchedulerConfig.fromJson(config(folder, "scheduler/scheduler_config.json")));
        } catch (Exception e) {
            manager.close();
            throw e;
        }
    }

    private static JsonNode config(Path folder, String file) throws Exception {
        return JSON.readTree(folder.resolve(file).toFile());
    }

    private void checkRun(Path modelPath, String name, JsonNode run) throws Exception {
        GoldenPipelineRuns.Call call = GoldenPipelineRuns.Call.fromReadme(CASE);
        try (StableDiffusionModel model = load(modelPath);
             SafetensorsFile golden = Golden.tensors(CASE, name + ".safetensors");
             NDManager manager = model.manager().newSubManager()) {
            assertTrue(model.isSdxl(), modelPath + " loads as SDXL");
            String negative = run.get("negative_prompt").isNull() ? "" : run.get("negative_prompt").asText();
            Sampler sampler = Sampler.fromName(run.get("scheduler").asText());
            int steps = run.get("num_unet_calls").asInt();
            long[] imageShape = golden.info("image").shape(); // [1, H, W, 3]
            int width = (int) imageShape[2];
            int height = (int) imageShape[1];
            MicroConditioning[] micro = microConditioning(run.get("micro_conditioning"));
            GenerationRequest request = GenerationRequest.builder(call.prompt()).negativePrompt(negative).sampler(sampler)
                    .steps(steps).guidanceScale(call.guidanceScale()).size(width, height)
                    .microConditioning(micro[0], micro[1]).build();
            Map<String, Double> observed = GoldenPipelineRuns.observed(run);
            Map<String, Double> errors = new TreeMap<>();

            // 1. Token ids of both tokenizers.
            int idLength = Math.toIntExact(golden.info("prompt_input_ids").shape()[1]);
            StableDiffusionModel.SecondTextEncoder second = model.secondTextEncoder().orElseThrow();
            assertArrayEquals(golden.longs("prompt_input_ids"), longs(model.tokenizer().encode(call.prompt(), idLength)));
            assertArrayEquals(golden.longs("prompt_input_ids_2"), longs(second.tokenizer().encode(call.prompt(), idLength)));
            if (golden.contains("negative_input_ids")) {
                assertArrayEquals(golden.longs("negative_input_ids"), longs(model.tokenizer().encode(negative, idLength)));
                assertArrayEquals(golden.longs("negative_input_ids_2"), longs(second.tokenizer().encode(negative, idLength)));
            }

            // 2. Prompt and pooled embeddings, the negative side as zeros when there is no negative prompt.
            SdxlPromptEncoder encoder = new SdxlPromptEncoder(model.sdxlTextEncoders(), PromptEncoder.Options.DEFAULTS,
                    second.forceZerosForEmptyPrompt());
            List<SdxlPromptEncoder.Embeddings> pair = encoder.encodeWithNegative(call.prompt(), negative, manager);
            errors.put("prompt_embeds", Parity.assertClose(golden, "prompt_embeds", pair.get(0).promptEmbeds(),
                    10 * observed.get("prompt_embeds")));
            errors.put("pooled_prompt_embeds", Parity.assertClose(golden, "pooled_prompt_embeds", pair.get(0).pooledPromptEmbeds(),
                    10 * observed.get("pooled_prompt_embeds")));
            double negativeTolerance = 10 * observed.getOrDefault("negative_prompt_embeds", observed.get("prompt_embeds"));
            Parity.assertClose(golden, "negative_prompt_embeds", pair.get(1).promptEmbeds(), negativeTolerance);
            Parity.assertClose(golden, "negative_pooled_prompt_embeds", pair.get(1).pooledPromptEmbeds(),
                    10 * observed.get("pooled_prompt_embeds"));

            // 3. Micro-conditioning: exact.
            assertArrayEquals(golden.floats("add_time_ids"), request.microConditioningFor(width, height).timeIds());
            assertArrayEquals(golden.floats("negative_add_time_ids"), request.negativeMicroConditioningFor(width, height).timeIds());

            // 4. The first U-Net call on the recorded doubled input, [uncond, cond] rows.
            NDArray context = Parity.load(golden, "negative_prompt_embeds", manager)
                    .concat(Parity.load(golden, "prompt_embeds", manager), 0);
            UNetConditioning conditioning = new UNetConditioning(context, Parity.load(golden, "unet_step0_text_embeds", manager),
                    Parity.load(golden, "unet_step0_time_ids", manager));
            NDArray step0 = model.unet().forward(Parity.load(golden, "unet_step0_latent_model_input", manager),
                    new float[] {(float) golden.doubles("timesteps")[0]}, conditioning);
            errors.put("unet_step0_noise_pred", Parity.assertClose(golden, "unet_step0_noise_pred", step0,
                    10 * observed.get("unet_step0_noise_pred")));

            // 5. The pipeline itself, step by step, then decoded: every step's latents and the 8-bit image.
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            RecordedNoise noise = GoldenPipelineRuns.recordedNoise(golden, steps);
            double latentTolerance = 10 * observed.get("final_latents");
            List<GeneratedImage> images;
            try (GenerationJob job = pipeline.start(request, noise, GenerationListener.NONE, () -> false)) {
                Parity.assertClose(golden, "latents_init", job.state.latents(), 1e-5);
                for (int i = 0; !job.isFinished(); i++) {
                    pipeline.step(List.of(job));
                    errors.merge("step_latents", Parity.assertClose(golden, String.format("step%02d_latents", i),
                            job.state.latents(), latentTolerance), Math::max);
                }
                images = pipeline.finish(job);
            }
            assertEquals(noise.recorded(), noise.drawn(), "every recorded noise tensor is consumed");
            errors.put("image_levels", (double) GoldenPipelineRuns.assertImageClose(golden.floats("image"), imageShape, images.get(0).image()));
            System.out.println(name + " (" + modelPath.getFileName() + ") max abs errors: " + errors);
        }
    }

    /**
     * The run's micro-conditioning as diffusers takes it ({@code original_size} and {@code target_size}
     * as (height, width), {@code crops_coords_top_left} as (top, left)); null entries for its defaults.
     *
     * @return the conditional and the unconditional pass's
     */
    private static MicroConditioning[] microConditioning(JsonNode value) throws Exception {
        if (value == null || value.isNull()) {
            return new MicroConditioning[2];
        }
        JsonNode json = value.isTextual() ? JSON.readTree(value.asText()) : value;
        MicroConditioning positive = micro(json.get("original_size"), json.get("crops_coords_top_left"), json.get("target_size"));
        // diffusers uses its own negative ids only when both negative sizes are given
        MicroConditioning negative = json.hasNonNull("negative_original_size") && json.hasNonNull("negative_target_size")
                ? micro(json.get("negative_original_size"), json.get("negative_crops_coords_top_left"), json.get("negative_target_size"))
                : null;
        return new MicroConditioning[] {positive, negative};
    }

    private static MicroConditioning micro(JsonNode original, JsonNode crop, JsonNode target) {
        int top = crop == null || crop.isNull() ? 0 : crop.get(0).asInt();
        int left = crop == null || crop.isNull() ? 0 : crop.get(1).asInt();
        return new MicroConditioning(original.get(1).asInt(), original.get(0).asInt(), top, left, target.get(1).asInt(),
                target.get(0).asInt());
    }




    private static long[] longs(int[] values) {
        return java.util.Arrays.stream(values).asLongStream().toArray();
    }

}
