package daguerre.diffusion.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.ImageTensors;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.train.Pixels;
import daguerre.diffusion.train.data.EmojiDataset;
import daguerre.diffusion.train.data.EmojiSample;
import daguerre.diffusion.train.data.ObjectColourReference;
import daguerre.diffusion.train.data.PaletteColour;
import daguerre.diffusion.train.data.Sample;
import daguerre.diffusion.train.data.Srgb;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The quality bars of the default model (issue "The default model"), measured on the emoji
 * recipe's held-out split:
 * <ol>
 *   <li><b>VAE PSNR</b>: held-out images encoded (posterior mean) and decoded, 8-bit PSNR;</li>
 *   <li><b>background adherence</b>: for held-out captions, the fraction of generated images whose
 *       outer {@value #BORDER}-pixel border has a mean colour nearest (CIELAB) to the requested
 *       palette colour;</li>
 *   <li><b>object colour adherence</b>: for {@code {colour} heart|circle|square} captions on
 *       backgrounds more than {@value #OBJECT_BACKGROUND_DISTANCE} CIELAB units from the object's
 *       reference colour, the fraction whose dominant non-background centre colour
 *       ({@link ImageMetrics#dominantCentreColour}) is nearest to the requested colour's reference
 *       among the nine colours of that shape and style;</li>
 *   <li><b>seed diversity</b>: the mean pairwise difference between the images of one prompt with
 *       different seeds, averaged over the background prompts;</li>
 *   <li>the wall-clock time of one image (batch 1, guidance on).</li>
 * </ol>
 */
public final class DefaultModelEvaluation {

    /** Border width of the background measure, in pixels. */
    public static final int BORDER = 4;
    /** Least CIELAB distance between an object colour and the background it is asked on. */
    public static final double OBJECT_BACKGROUND_DISTANCE = 40;
    /** Pixels within this CIELAB distance of the background are not counted as the object. */
    public static final double BACKGROUND_TOLERANCE = 20;

    /**
     * What to measure.
     *
     * @param vaeImages held-out images for the PSNR
     * @param backgroundPrompts held-out captions for background adherence and seed diversity
     * @param objectBackgrounds backgrounds per object-colour reference (chosen in palette order
     *     among the eligible ones, starting at a different colour for each reference)
     * @param seeds images per prompt (seeds firstSeed, firstSeed + 1, ...)
     */
    public record Options(int vaeImages, int backgroundPrompts, int objectBackgrounds, int seeds, int steps, double guidance,
                          Sampler sampler, long firstSeed) {}

    /** The figures; fractions in [0, 1]. */
    public record Figures(double vaePsnr, int vaeImages, double backgroundAdherence, int backgroundImages,
                          double objectColourAdherence, int objectImages, double seedDiversity, double secondsPerImage) {}

    private DefaultModelEvaluation() {}

    /** Measures everything; {@code progress} receives one line per finished part. */
    public static Figures run(StableDiffusionModel model, EmojiDataset data, Options options, Consumer<String> progress) {
        List<EmojiSample> heldOut = data.heldOut().samples(0);
        int size = model.defaultImageSize();
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);

        double psnr = vaePsnr(model, data, Math.min(options.vaeImages(), heldOut.size()));
        progress.accept(String.format("VAE PSNR %.2f dB over %d held-out images", psnr, options.vaeImages()));

        long singleStart = System.nanoTime();
        generate(pipeline, heldOut.get(0).caption(), 1, options);
        double secondsPerImage = (System.nanoTime() - singleStart) / 1e9;
        progress.accept(String.format("one image at %d steps: %.2f s", options.steps(), secondsPerImage));

        int backgroundHits = 0;
        int backgroundImages = 0;
        double diversity = 0;
        int prompts = Math.min(options.backgroundPrompts(), heldOut.size());
        for (int i = 0; i < prompts; i++) {
            EmojiSample sample = heldOut.get(i);
            List<BufferedImage> images = generate(pipeline, sample.caption(), options.seeds(), options);
            for (BufferedImage image : images) {
                if (image.getWidth() != size) {
                    throw new IllegalStateException("generated " + image.getWidth() + " pixels, expected " + size);
                }
                if (PaletteColour.nearest(ImageMetrics.borderMean(image, BORDER)) == sample.background()) {
                    backgroundHits++;
                }
                backgroundImages++;
            }
            if (images.size() > 1) {
                diversity += ImageMetrics.meanPairwiseDifference(images);
            }
        }
        progress.accept(String.format("background adherence %d/%d", backgroundHits, backgroundImages));

        List<ObjectColourReference> references = data.objectColours();
        int objectHits = 0;
        int objectImages = 0;
        for (int r = 0; r < references.size(); r++) {
            ObjectColourReference reference = references.get(r);
            Map<String, Srgb> candidates = new LinkedHashMap<>();
            for (ObjectColourReference other : references) {
                if (other.shape().equals(reference.shape()) && other.style() == reference.style()) {
                    candidates.put(other.colour(), other.meanColour());
                }
            }
            for (PaletteColour background : eligibleBackgrounds(reference, r, options.objectBackgrounds())) {
                for (BufferedImage image : generate(pipeline, reference.caption(background), options.seeds(), options)) {
                    Optional<Srgb> dominant = ImageMetrics.dominantCentreColour(image, background.srgb(), BACKGROUND_TOLERANCE);
                    if (dominant.isPresent() && ImageMetrics.nearest(dominant.get(), candidates).equals(reference.colour())) {
                        objectHits++;
                    }
                    objectImages++;
                }
            }
        }
        progress.accept(String.format("object colour adherence %d/%d", objectHits, objectImages));
        return new Figures(psnr, options.vaeImages(), (double) backgroundHits / backgroundImages, backgroundImages,
                objectImages == 0 ? Double.NaN : (double) objectHits / objectImages, objectImages,
                prompts == 0 ? Double.NaN : diversity / prompts, secondsPerImage);
    }

    /**
     * {@code count} palette colours further than {@link #OBJECT_BACKGROUND_DISTANCE} from the
     * reference's colour, taken in palette order starting at colour {@code offset mod 10}.
     */
    static List<PaletteColour> eligibleBackgrounds(ObjectColourReference reference, int offset, int count) {
        PaletteColour[] palette = PaletteColour.values();
        List<PaletteColour> out = new ArrayList<>();
        for (int i = 0; i < palette.length && out.size() < count; i++) {
            PaletteColour candidate = palette[(offset + i) % palette.length];
            if (candidate.lab().distance(reference.lab()) > OBJECT_BACKGROUND_DISTANCE) {
                out.add(candidate);
            }
        }
        return out;
    }

    /** Mean PSNR of the first {@code count} held-out images through the autoencoder. */
    public static double vaePsnr(StableDiffusionModel model, EmojiDataset data, int count) {
        double total = 0;
        int batch = 16;
        for (int start = 0; start < count; start += batch) {
            int n = Math.min(batch, count - start);
            Sample[] samples = new Sample[n];
            int side = data.imageSize();
            float[] pixels = new float[n * 3 * side * side];
            for (int i = 0; i < n; i++) {
                samples[i] = data.heldOut().sample(0, start + i);
                System.arraycopy(Pixels.toUnitRange(samples[i].image()), 0, pixels, i * 3 * side * side, 3 * side * side);
            }
            try (NDManager scope = model.manager().newSubManager()) {
                NDArray x = scope.create(pixels, new Shape(n, 3, side, side));
                List<BufferedImage> decoded = ImageTensors.toImages(model.vae().decode(model.vae().encode(x).mean()));
                for (int i = 0; i < n; i++) {
                    total += ImageMetrics.psnr(samples[i].image(), decoded.get(i));
                }
            }
        }
        return total / count;
    }

    /**
     * A contact sheet: one row per prompt, one column per seed (firstSeed, firstSeed + 1, ...), each
     * cell the generated image at the model's size.
     */
    public static BufferedImage sampleGrid(StableDiffusionModel model, List<String> prompts, Options options) {
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        int size = model.defaultImageSize();
        BufferedImage grid = new BufferedImage(size * options.seeds(), size * prompts.size(), BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = grid.createGraphics();
        try {
            for (int row = 0; row < prompts.size(); row++) {
                List<BufferedImage> images = generate(pipeline, prompts.get(row), options.seeds(), options);
                for (int column = 0; column < images.size(); column++) {
                    g.drawImage(images.get(column), column * size, row * size, null);
                }
            }
        } finally {
            g.dispose();
        }
        return grid;
    }

    private static List<BufferedImage> generate(StableDiffusionPipeline pipeline, String prompt, int seeds, Options options) {
        GenerationRequest request = GenerationRequest.builder(prompt).sampler(options.sampler()).steps(options.steps())
                .guidanceScale(options.guidance()).seed(options.firstSeed()).batchSize(seeds).build();
        List<BufferedImage> images = new ArrayList<>();
        for (GeneratedImage image : pipeline.generate(request, (step, total, preview) -> { }, () -> false)) {
            images.add(image.image());
        }
        return images;
    }
}
