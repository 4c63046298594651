package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.eval.DefaultModelEvaluation;
import daguerre.diffusion.eval.ImageMetrics;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.train.data.PaletteColour;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The default model in {@code weights/default/model} loads with the same loader as an SD 1.5
 * folder and draws what its captions ask for: the background of each image is nearest to the
 * requested palette colour, and different seeds give different images.
 */
class ShippedDefaultModelTest {

    private static Path folder() {
        Path root = Path.of(System.getProperty("daguerre.root", ".."));
        Path model = root.resolve(DefaultModel.SOURCE_FOLDER);
        assertTrue(Files.isRegularFile(model.resolve("model_index.json")), "the default model is missing: " + model.toAbsolutePath());
        return model;
    }

    @Test
    void generatesTheRequestedBackgroundsAt64Pixels() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(folder(), null, new ModelHasher())) {
            assertEquals(64, model.defaultImageSize());
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            for (PaletteColour background : List.of(PaletteColour.BLUE, PaletteColour.YELLOW, PaletteColour.BLACK)) {
                String prompt = "red heart, twemoji style, on a " + background.name().toLowerCase() + " background";
                GenerationRequest request = GenerationRequest.builder(prompt).sampler(Sampler.EULER_A).steps(12)
                        .guidanceScale(5).seed(1000).batchSize(2).build();
                List<GeneratedImage> images = pipeline.generate(request, (step, total, preview) -> { }, () -> false);
                for (GeneratedImage image : images) {
                    BufferedImage pixels = image.image();
                    assertEquals(64, pixels.getWidth());
                    assertEquals(background, PaletteColour.nearest(ImageMetrics.borderMean(pixels, DefaultModelEvaluation.BORDER)),
                            prompt + ", seed " + image.seed());
                }
                double difference = ImageMetrics.meanPairwiseDifference(List.of(images.get(0).image(), images.get(1).image()));
                assertTrue(difference > 5, "seeds 1000 and 1001 gave nearly the same image: " + difference);
            }
        }
    }
}
