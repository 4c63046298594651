package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.weights.TensorSource;
import daguerre.weights.model.DiscoveredModel;
import daguerre.weights.model.ModelDiscovery;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.TokenizerFiles;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.HalfFloats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A random-weight model written as a diffusers folder and as an original single file (F16), then
 * loaded by {@link StableDiffusionModel#load}: same configs, every parameter bit-equal to the
 * in-memory value rounded to F16 (through the files, see {@link #roundTrip}), and the same U-Net
 * output from both loads. The SD 1.5-sized run
 * (1.07 G parameters, two 2 GB files) is opt-in with {@code -Ddaguerre.largeTests=true}; the
 * SD 1.5-structured {@code small} preset runs always.
 */
class ModelRoundTripTest {

    @TempDir
    Path dir;

    @Test
    void smallModelRoundTripsThroughFolderAndSingleFile() throws Exception {
        roundTrip(ModelPreset.SMALL);
    }

    /**
     * SDXL's structure at small widths that follows the conventions a single file's configs are inferred
     * by (64-wide heads, text encoders of one 64-wide head, encoder 1 without a projection): DownBlock2D
     * then two cross-attention levels, transformer depth 1, 1, 2, the text_time embedding.
     */
    static final ModelPreset SMALL_XL = new ModelPreset("small-xl",
            new daguerre.diffusion.unet.UNetConfig(128, 4, 4, java.util.List.of(64, 128, 128), 2,
                    java.util.List.of(daguerre.diffusion.unet.UNetConfig.DOWN, daguerre.diffusion.unet.UNetConfig.CROSS_ATTN_DOWN,
                            daguerre.diffusion.unet.UNetConfig.CROSS_ATTN_DOWN),
                    java.util.List.of(daguerre.diffusion.unet.UNetConfig.CROSS_ATTN_UP, daguerre.diffusion.unet.UNetConfig.CROSS_ATTN_UP,
                            daguerre.diffusion.unet.UNetConfig.UP),
                    128, java.util.List.of(1, 2, 2), java.util.List.of(1, 1, 2), true, false, 32, 1e-5f, true, 0f,
                    new daguerre.diffusion.unet.UNetConfig.TextTime(8, 32 + 6 * 8)),
            new VaeConfig(3, 3, java.util.List.of(32, 64), 2, 4, 32, 64, ModelPreset.SDXL_SCALING_FACTOR),
            new daguerre.diffusion.text.ClipTextConfig(ModelPreset.CLIP_VOCAB_SIZE, 64, 128, 2, 1, ModelPreset.CLIP_POSITIONS,
                    daguerre.diffusion.text.ClipTextConfig.Activation.QUICK_GELU, 1e-5f, 49406, 49407, 1, 512),
            new daguerre.diffusion.text.ClipTextConfig(ModelPreset.CLIP_VOCAB_SIZE, 64, 128, 2, 1, ModelPreset.CLIP_POSITIONS,
                    daguerre.diffusion.text.ClipTextConfig.Activation.GELU, 1e-5f, 49406, 49407, 1, 32));

    @Test
    void smallSdxlModelRoundTripsThroughFolderAndSingleFile() throws Exception {
        roundTrip(SMALL_XL);
    }

    @Test
    @EnabledIfSystemProperty(named = "daguerre.largeTests", matches = "true")
    void sdxlSizedSingleFileLoadsAndGeneratesAt256Pixels() throws Exception {
        Path file = dir.resolve("random-sdxl.safetensors");
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.SDXL, 11)) {
            ModelWriter.writeSingleFile(model, file, DType.F16);
        }
        try (StableDiffusionModel loaded = StableDiffusionModel.load(file, null, new ModelHasher())) {
            assertTrue(loaded.isSdxl());
            assertEquals(ModelPreset.SDXL.unet(), loaded.unet().config());
            java.util.List<GeneratedImage> images = new StableDiffusionPipeline(loaded).generate(
                    GenerationRequest.builder("a lighthouse").steps(2).size(256, 256).build(), GenerationListener.NONE, () -> false);
            assertEquals(256, images.get(0).image().getWidth());
        }
    }

    @Test
    @EnabledIfSystemProperty(named = "daguerre.largeTests", matches = "true")
    void sd15SizedModelRoundTripsThroughFolderAndSingleFile() throws Exception {
        roundTrip(ModelPreset.SD15);
    }

    /**
     * Only one model is alive at a time (an SD 1.5-sized one takes 4.3 GB of native memory): the
     * written files are first checked against the in-memory model through {@link ModelDiscovery}'s
     * memory-mapped tensor views, then each loaded model is checked against the other layout's file.
     */
    private void roundTrip(ModelPreset preset) throws Exception {
        Path folder = dir.resolve("random-folder");
        Path file = dir.resolve("random-single.safetensors");
        try (StableDiffusionModel model = RandomModel.create(preset, 11)) {
            ModelWriter.writeDiffusersFolder(model, folder, DType.F16);
            ModelWriter.writeSingleFile(model, file, DType.F16);
            long parameters = model.unet().parameterCount() + model.vae().parameterCount() + model.textEncoder().parameterCount()
                    + model.secondTextEncoder().map(second -> second.encoder().parameterCount()).orElse(0L);
            assertTrue(Files.size(file) < 2 * parameters + (1 << 20), "F16 file of " + Files.size(file) + " bytes");
            try (DiscoveredModel written = ModelDiscovery.open(folder)) {
                assertFilesHoldF16OfModel(model, written, "folder");
            }
            try (DiscoveredModel written = ModelDiscovery.open(file)) {
                assertFilesHoldF16OfModel(model, written, "single file");
            }
        }
        float[] fromFolder;
        try (StableDiffusionModel loaded = StableDiffusionModel.load(folder, null, new ModelHasher());
             DiscoveredModel other = ModelDiscovery.open(file)) {
            assertSameConfigs(preset, loaded, true);
            assertLoadedEqualsFile(loaded, other, "folder load vs single file");
            fromFolder = unetOutput(loaded);
        }
        try (StableDiffusionModel loaded = StableDiffusionModel.load(file, null, new ModelHasher());
             DiscoveredModel other = ModelDiscovery.open(folder)) {
            assertSameConfigs(preset, loaded, false);
            assertLoadedEqualsFile(loaded, other, "single-file load vs folder");
            assertArrayEquals(fromFolder, unetOutput(loaded), "U-Net output, folder vs single file");
        }
    }

    private static void assertSameConfigs(ModelPreset preset, StableDiffusionModel loaded, boolean folder) {
        String layout = folder ? "folder" : "single file";
        assertEquals(preset.unet(), loaded.unet().config(), layout + " U-Net config");
        assertEquals(preset.textEncoder(), loaded.textEncoder().config(), layout + " text encoder config");
        assertEquals(preset.textEncoder2() != null, loaded.isSdxl(), layout + " family");
        if (preset.textEncoder2() != null) {
            StableDiffusionModel.SecondTextEncoder second = loaded.secondTextEncoder().orElseThrow();
            assertEquals(preset.textEncoder2(), second.encoder().config(), layout + " text encoder 2 config");
            String prompt = "wow! a lighthouse!";
            assertArrayEquals(bundledTokenizer(TokenizerFiles.SD2_PAD_TOKEN).encode(prompt), second.tokenizer().encode(prompt),
                    layout + " tokenizer 2");
        }
        VaeConfig expected = preset.vae();
        VaeConfig vae = loaded.vae().config();
        // a single file does not record the VAE's training sample size
        assertEquals(folder ? expected : new VaeConfig(expected.inChannels(), expected.outChannels(),
                expected.blockOutChannels(), expected.layersPerBlock(), expected.latentChannels(),
                expected.normNumGroups(), vae.sampleSize(), expected.scalingFactor()), vae, layout + " VAE config");
        assertEquals(SchedulerConfig.SD15, loaded.scheduler(), layout + " scheduler");
        String prompt = "a watercolour of a lighthouse at dusk";
        assertArrayEquals(bundledTokenizer(TokenizerFiles.SD1_PAD_TOKEN).encode(prompt), loaded.tokenizer().encode(prompt),
                layout + " tokenizer");
    }

    private static ClipTokenizer bundledTokenizer(String padToken) {
        try {
            return StableDiffusionModel.loadTokenizer(TokenizerFiles.bundledClip(padToken));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The written tensors are the in-memory values rounded to F16, bit for bit, under every canonical name. */
    private static void assertFilesHoldF16OfModel(StableDiffusionModel model, DiscoveredModel written, String layout)
            throws IOException {
        assertSameValues(model.unet(), written.unet().weights(), layout + " U-Net", true);
        assertSameValues(model.vae(), written.vae().weights(), layout + " VAE", true);
        assertSameValues(model.textEncoder(), written.textEncoder().weights(), layout + " text encoder", true);
        if (model.isSdxl()) {
            assertSameValues(model.secondTextEncoder().orElseThrow().encoder(),
                    written.secondTextEncoder().orElseThrow().encoder().weights(), layout + " text encoder 2", true);
        }
    }

    /** The loaded model's weights are exactly the tensors of the other layout's file (already F16-rounded). */
    private static void assertLoadedEqualsFile(StableDiffusionModel loaded, DiscoveredModel other, String what)
            throws IOException {
        assertSameValues(loaded.unet(), other.unet().weights(), what + " U-Net", false);
        assertSameValues(loaded.vae(), other.vae().weights(), what + " VAE", false);
        assertSameValues(loaded.textEncoder(), other.textEncoder().weights(), what + " text encoder", false);
        if (loaded.isSdxl()) {
            assertSameValues(loaded.secondTextEncoder().orElseThrow().encoder(),
                    other.secondTextEncoder().orElseThrow().encoder().weights(), what + " text encoder 2", false);
        }
    }

    private static void assertSameValues(Module module, TensorSource source, String what, boolean roundToF16)
            throws IOException {
        Map<String, Parameter> parameters = module.namedParameters();
        assertEquals(new TreeSet<>(parameters.keySet()), new TreeSet<>(source.names()), what + " tensor names");
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            assertArrayEquals(e.getValue().shape().getShape(), source.shape(e.getKey()), what + " shape of " + e.getKey());
            float[] in = e.getValue().value().toFloatArray();
            float[] stored = source.floats(e.getKey());
            for (int i = 0; i < in.length; i++) {
                float expected = roundToF16 ? HalfFloats.f16ToFloat(HalfFloats.floatToF16(in[i])) : in[i];
                if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(stored[i])) {
                    fail(what + " " + e.getKey() + "[" + i + "]: expected " + expected + ", file holds " + stored[i]);
                }
            }
        }
    }

    private static float[] gaussians(SplittableRandom random, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    /** One U-Net call at 64 px (latents [1, 4, 8, 8], seeded) on a seeded [1, 77, D] context (SDXL: and pooled embedding, time ids). */
    private static float[] unetOutput(StableDiffusionModel model) {
        int latent = 64 / model.vaeScaleFactor();
        int contextDim = model.unet().config().crossAttentionDim();
        SplittableRandom random = new SplittableRandom(3);
        float[] sample = new float[4 * latent * latent];
        float[] context = new float[77 * contextDim];
        for (int i = 0; i < sample.length; i++) {
            sample[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < context.length; i++) {
            context[i] = (float) random.nextGaussian();
        }
        try (NDManager call = model.manager().newSubManager()) {
            NDArray contextArray = call.create(context, new Shape(1, 77, contextDim));
            daguerre.diffusion.unet.UNetConditioning conditioning = !model.isSdxl()
                    ? daguerre.diffusion.unet.UNetConditioning.of(contextArray)
                    : new daguerre.diffusion.unet.UNetConditioning(contextArray,
                            call.create(gaussians(random, model.secondTextEncoder().orElseThrow().encoder().config().projectionDim()),
                                    new Shape(1, model.secondTextEncoder().orElseThrow().encoder().config().projectionDim())),
                            call.create(new float[] {64, 64, 0, 0, 64, 64}, new Shape(1, 6)));
            NDArray out = model.unet().forward(call.create(sample, new Shape(1, 4, latent, latent)), new float[] {500f}, conditioning);
            float[] values = out.toFloatArray();
            for (float v : values) {
                assertTrue(Float.isFinite(v), "U-Net output not finite");
            }
            return values;
        }
    }
}
