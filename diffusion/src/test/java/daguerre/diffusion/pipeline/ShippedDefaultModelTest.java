package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.eval.DefaultModelEvaluation;
import daguerre.diffusion.eval.ImageMetrics;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.train.data.EmojiModelCard;
import daguerre.diffusion.train.data.PaletteColour;
import daguerre.diffusion.train.data.Srgb;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelCard;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The default model in {@code weights/default/model} loads with the same loader as an SD 1.5
 * folder and draws what its captions ask for: the background of each image is nearest to the
 * requested palette colour, the colour word of a coloured circle sets the object's colour, and
 * different seeds give different images.
 */
class ShippedDefaultModelTest {

    private static Path folder() {
        Path root = Path.of(System.getProperty("daguerre.root", ".."));
        Path model = root.resolve(DefaultModel.SOURCE_FOLDER);
        assertTrue(Files.isRegularFile(model.resolve("model_index.json")), "the default model is missing: " + model.toAbsolutePath());
        return model;
    }

    /**
     * The model card names the model and its caption form: its own examples and the README's draw
     * without a warning; prompts outside its vocabulary, its form or its training emoji are warned
     * about, naming what it does not know.
     */
    @Test
    void saysWhatItIsAndWhichPromptsItKnows() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(folder(), null, new ModelHasher())) {
            ModelCard card = model.card().orElseThrow();
            assertEquals(EmojiModelCard.ID, model.id());
            assertTrue(card.description().contains("emoji"), card.description());
            for (String prompt : card.examplePrompts()) {
                assertEquals(List.of(), card.promptWarnings(prompt), prompt);
            }
            assertEquals(List.of(), card.promptWarnings("(red heart:1.2), noto style, on a  blue background"));
            List<String> stranger = card.promptWarnings("a photograph of quantum space");
            assertEquals(2, stranger.size(), stranger.toString());
            assertTrue(stranger.get(0).contains("'photograph', 'quantum', 'space'"), stranger.get(0));
            assertTrue(stranger.get(1).contains("{emoji name}, {twemoji|noto} style"), stranger.get(1));
            List<String> heldOut = card.promptWarnings("star, noto style, on a green background");
            assertEquals(1, heldOut.size(), heldOut.toString());
            assertTrue(heldOut.get(0).contains("never saw 'star'"), heldOut.get(0));
        }
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
            }
        }
    }

    /**
     * The default model's 16x16 latents reach 8x8 maps in the U-Net and start the VAE decoder at
     * 16x16 (Conv2d's im2col + GEMM path on the small maps): generations, with every fused kernel
     * and with none, leave nothing in the model's manager.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void generationsLeaveNothingInTheModelsManager(boolean fused) throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(folder(), null, new ModelHasher())) {
            model.useKernels(Kernels.all(fused));
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            GenerationRequest request = GenerationRequest.builder("red heart, twemoji style, on a blue background")
                    .sampler(Sampler.EULER_A).steps(3).guidanceScale(5).seed(7).build();
            pipeline.generate(request, (step, total, preview) -> { }, () -> false);
            int arrays = model.manager().getManagedArrays().size();
            for (int i = 0; i < 3; i++) {
                pipeline.generate(request, (step, total, preview) -> { }, () -> false);
            }
            assertEquals(arrays, model.manager().getManagedArrays().size(), "generations left arrays in the model's manager");
        }
    }

    /**
     * Seeds matter. Not asked of the object-colour emoji such as the red heart: the fine-tune showed
     * them 20 times per epoch and they now come out nearly the same for every seed (see the model card).
     */
    @Test
    void differentSeedsGiveDifferentImages() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(folder(), null, new ModelHasher())) {
            String prompt = "smiling face with sunglasses, twemoji style, on a pink background";
            GenerationRequest request = GenerationRequest.builder(prompt).sampler(Sampler.EULER_A).steps(12)
                    .guidanceScale(5).seed(1000).batchSize(2).build();
            List<GeneratedImage> images = new StableDiffusionPipeline(model).generate(request, (step, total, preview) -> { },
                    () -> false);
            double difference = ImageMetrics.meanPairwiseDifference(List.of(images.get(0).image(), images.get(1).image()));
            assertTrue(difference > 5, "seeds 1000 and 1001 gave nearly the same image: " + difference);
        }
    }

    /**
     * The mean colours of the opaque pixels of the nine Twemoji circles in the pinned data (as
     * {@code ObjectColours.references} measures them; the data itself is not in the repository).
     */
    private static final Map<String, Srgb> TWEMOJI_CIRCLES = new LinkedHashMap<>();

    static {
        TWEMOJI_CIRCLES.put("red", new Srgb(221, 46, 68));
        TWEMOJI_CIRCLES.put("orange", new Srgb(244, 144, 12));
        TWEMOJI_CIRCLES.put("yellow", new Srgb(253, 203, 88));
        TWEMOJI_CIRCLES.put("green", new Srgb(120, 177, 89));
        TWEMOJI_CIRCLES.put("blue", new Srgb(85, 172, 238));
        TWEMOJI_CIRCLES.put("purple", new Srgb(170, 142, 214));
        TWEMOJI_CIRCLES.put("brown", new Srgb(193, 105, 79));
        TWEMOJI_CIRCLES.put("black", new Srgb(49, 55, 61));
        TWEMOJI_CIRCLES.put("white", new Srgb(230, 231, 232));
    }

    @Test
    void theColourWordSetsTheColourOfTheObject() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(folder(), null, new ModelHasher())) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            for (String colour : List.of("red", "yellow", "green", "blue", "purple", "black")) {
                PaletteColour background = colour.equals("black") ? PaletteColour.WHITE : PaletteColour.GRAY;
                String prompt = colour + " circle, twemoji style, on a " + background.name().toLowerCase() + " background";
                GenerationRequest request = GenerationRequest.builder(prompt).sampler(Sampler.EULER_A).steps(12)
                        .guidanceScale(5).seed(1000).build();
                BufferedImage image = pipeline.generate(request, (step, total, preview) -> { }, () -> false).get(0).image();
                Optional<Srgb> centre = ImageMetrics.dominantCentreColour(image, background.srgb(),
                        DefaultModelEvaluation.BACKGROUND_TOLERANCE);
                assertTrue(centre.isPresent(), prompt + ": no object in the centre");
                assertEquals(colour, ImageMetrics.nearest(centre.get(), TWEMOJI_CIRCLES), prompt + ": centre " + centre.get());
            }
        }
    }
}
