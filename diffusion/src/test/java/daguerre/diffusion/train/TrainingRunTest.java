package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.train.data.ImageCaptionDataset;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.weights.model.ModelHasher;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole recipe on a tiny synthetic folder: losses fall, resuming is exact, and the export loads and generates. */
class TrainingRunTest {

    @TempDir
    Path temp;

    @Test
    void trainsExportsAndTheExportGenerates() throws IOException {
        Path images = TinyTrainingData.writeFolder(temp.resolve("images"));
        TrainConfig recipe = TinyTrainingData.recipe(images, temp.resolve("recipe"), 40, 40);
        Path model = new TrainingRun(recipe, TrainingListener.NONE, () -> Double.NaN).run();

        Map<String, List<Double>> losses = losses(recipe.runDir().resolve("losses.csv"));
        for (String stage : List.of(TrainingRun.VAE_STAGE, TrainingRun.DIFFUSION_STAGE)) {
            List<Double> values = losses.get(stage);
            assertEquals(40, values.size(), stage + " steps logged");
            double first = values.subList(0, 5).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double last = values.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            assertTrue(last < first, stage + " loss fell: " + first + " -> " + last);
        }
        for (String part : List.of("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                "vae/config.json", "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "scheduler/scheduler_config.json")) {
            assertTrue(Files.isRegularFile(model.resolve(part)), part);
        }
        try (StableDiffusionModel loaded = StableDiffusionModel.load(model, null, new ModelHasher())) {
            assertEquals(16, loaded.defaultImageSize());
            GenerationRequest request = GenerationRequest.builder("red square, on a blue background")
                    .sampler(Sampler.fromName("euler")).steps(4).guidanceScale(3).seed(5).batchSize(2).build();
            List<GeneratedImage> generated = new StableDiffusionPipeline(loaded).generate(request, (step, total, preview) -> { },
                    () -> false);
            assertEquals(2, generated.size());
            assertEquals(16, generated.get(0).image().getWidth());
            // a second run finds every stage finished and only exports again
            new TrainingRun(recipe, TrainingListener.NONE, () -> Double.NaN).run();
            assertEquals(40, losses(recipe.runDir().resolve("losses.csv")).get(TrainingRun.VAE_STAGE).size());
        }
        // exporting the newest checkpoints gives the same weights as the finished run's export
        Path snapshot = new TrainingRun(recipe, TrainingListener.NONE, () -> Double.NaN).exportCheckpoint(temp.resolve("snapshot"));
        for (String weights : List.of("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors")) {
            assertArrayEquals(Files.readAllBytes(model.resolve(weights)), Files.readAllBytes(snapshot.resolve(weights)), weights);
        }
        assertEquals(40, losses(recipe.runDir().resolve("losses.csv")).get(TrainingRun.DIFFUSION_STAGE).size());
    }

    @Test
    void aFineTuneStartsFromAModelFolderAndKeepsItsAutoencoderAndTokenizer() throws IOException {
        Path images = TinyTrainingData.writeFolder(temp.resolve("images"));
        Path base = new TrainingRun(TinyTrainingData.recipe(images, temp.resolve("base"), 2, 2), TrainingListener.NONE,
                () -> Double.NaN).run();
        TrainConfig fineTune = TinyTrainingData.fineTuneRecipe(images, base, temp.resolve("fine-tune"), 6);
        List<String> messages = new ArrayList<>();
        TrainingListener listener = new TrainingListener() {
            @Override
            public void onStep(TrainingProgress progress) {}

            @Override
            public void onMessage(String message) {
                messages.add(message);
            }
        };
        Path tuned = new TrainingRun(fineTune, listener, () -> Double.NaN).run();

        Map<String, List<Double>> losses = losses(fineTune.runDir().resolve("losses.csv"));
        assertEquals(6, losses.get(TrainingRun.DIFFUSION_STAGE).size(), "fine-tune steps logged");
        assertFalse(losses.containsKey(TrainingRun.VAE_STAGE), "no autoencoder stage in a fine-tune");
        assertTrue(messages.stream().anyMatch(m -> m.startsWith("fine-tuning " + base)), messages.toString());
        for (String kept : List.of("vae/diffusion_pytorch_model.safetensors", "vae/config.json", "tokenizer/vocab.json",
                "tokenizer/merges.txt")) {
            assertArrayEquals(Files.readAllBytes(base.resolve(kept)), Files.readAllBytes(tuned.resolve(kept)), kept);
        }
        for (String trained : List.of("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors")) {
            assertFalse(Arrays.equals(Files.readAllBytes(base.resolve(trained)), Files.readAllBytes(tuned.resolve(trained))),
                    trained + " changed");
        }
        try (StableDiffusionModel loaded = StableDiffusionModel.load(tuned, null, new ModelHasher())) {
            assertEquals(16, loaded.defaultImageSize());
        }
    }

    @Test
    void resumingFromACheckpointTakesTheSameStepsAsAnUninterruptedRun() throws IOException {
        Path images = TinyTrainingData.writeFolder(temp.resolve("images"));
        TrainConfig recipe = TinyTrainingData.recipe(images, temp.resolve("recipe"), 6, 1);
        ImageCaptionDataset data = TrainingRun.trainingData(recipe);

        List<Double> uninterrupted = new ArrayList<>();
        float[] finalWeights = train(recipe, data, temp.resolve("a"), 6, uninterrupted);

        List<Double> resumed = new ArrayList<>();
        train(recipe, data, temp.resolve("b"), 3, resumed);
        float[] resumedWeights = train(recipe, data, temp.resolve("b"), 6, resumed);

        assertEquals(uninterrupted, resumed);
        assertArrayEquals(finalWeights, resumedWeights);
    }

    /** Trains the VAE stage up to {@code untilStep} in a fresh process-like setting; returns decoder.conv_out.weight. */
    private static float[] train(TrainConfig recipe, ImageCaptionDataset data, Path runDir, long untilStep, List<Double> losses)
            throws IOException {
        try (NDManager manager = DjlRuntime.newManager()) {
            AutoencoderKL vae = new AutoencoderKL(recipe.vae().model());
            Initializers.initialize(vae, 11, manager);
            TrainConfig.Optimisation o = recipe.vae().optimisation();
            Trainer.Settings settings = new Trainer.Settings("vae", o.steps(), o.batchSize(), o.schedule(), o.optimiser(),
                    o.emaDecay(), 3600, 1);
            TrainingListener listener = progress -> losses.add(progress.loss());
            try (Trainer trainer = new Trainer(settings, TrainableParameters.of(Map.of("vae", vae)), manager,
                    runDir.resolve("checkpoints"), new TrainingLog(runDir), listener, () -> Double.NaN)) {
                trainer.resume();
                trainer.run(new VaeObjective(vae, data, o.batchSize(), recipe.vae().klWeight(), recipe.vae().edgeWeight(), 3),
                        untilStep);
                return vae.namedParameters().get("decoder.conv_out.weight").value().toFloatArray();
            }
        }
    }

    private static Map<String, List<Double>> losses(Path csv) throws IOException {
        Map<String, List<Double>> out = new java.util.HashMap<>();
        for (String line : Files.readAllLines(csv, StandardCharsets.UTF_8).subList(1, Files.readAllLines(csv).size())) {
            String[] fields = line.split(",");
            out.computeIfAbsent(fields[1], k -> new ArrayList<>()).add(Double.parseDouble(fields[3]));
        }
        return out;
    }
}
