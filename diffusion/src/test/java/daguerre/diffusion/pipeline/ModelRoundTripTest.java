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
            long parameters = model.unet().parameterCount() + model.vae().parameterCount() + model.textEncoder().parameterCount();
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
        VaeConfig expected = preset.vae();
        VaeConfig vae = loaded.vae().config();
        // a single file does not record the VAE's training sample size
        assertEquals(folder ? expected : new VaeConfig(expected.inChannels(), expected.outChannels(),
                expected.blockOutChannels(), expected.layersPerBlock(), expected.latentChannels(),
                expected.normNumGroups(), vae.sampleSize(), expected.scalingFactor()), vae, layout + " VAE config");
        assertEquals(SchedulerConfig.SD15, loaded.scheduler(), layout + " scheduler");
        String prompt = "a watercolour of a lighthouse at dusk";
        assertArrayEquals(bundledTokenizer().encode(prompt), loaded.tokenizer().encode(prompt), layout + " tokenizer");
    }

    private static ClipTokenizer bundledTokenizer() {
        try {
            return StableDiffusionModel.loadTokenizer(TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN));
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
    }

    /** The loaded model's weights are exactly the tensors of the other layout's file (already F16-rounded). */
    private static void assertLoadedEqualsFile(StableDiffusionModel loaded, DiscoveredModel other, String what)
            throws IOException {
        assertSameValues(loaded.unet(), other.unet().weights(), what + " U-Net", false);
        assertSameValues(loaded.vae(), other.vae().weights(), what + " VAE", false);
        assertSameValues(loaded.textEncoder(), other.textEncoder().weights(), what + " text encoder", false);
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

    /** One U-Net call at 64 px (latents [1, 4, 8, 8], seeded) on a seeded [1, 77, D] context. */
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
            NDArray out = model.unet().forward(call.create(sample, new Shape(1, 4, latent, latent)),
                    call.create(new float[] {500f}), call.create(context, new Shape(1, 77, contextDim)));
            float[] values = out.toFloatArray();
            for (float v : values) {
                assertTrue(Float.isFinite(v), "U-Net output not finite");
            }
            return values;
        }
    }
}
