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
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.HalfFloats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A random-weight model written as a diffusers folder and as an original single file (F16), then
 * loaded by {@link StableDiffusionModel#load}: same configs, every parameter bit-equal to the
 * in-memory value rounded to F16, and the same U-Net output from both loads. The SD 1.5-sized run
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

    private void roundTrip(ModelPreset preset) throws Exception {
        try (StableDiffusionModel model = RandomModel.create(preset, 11)) {
            Path folder = dir.resolve("random-folder");
            Path file = dir.resolve("random-single.safetensors");
            ModelWriter.writeDiffusersFolder(model, folder, DType.F16);
            ModelWriter.writeSingleFile(model, file, DType.F16);
            assertTrue(Files.size(file) < 2L * model.unet().parameterCount() + 2L * model.vae().parameterCount()
                    + 2L * model.textEncoder().parameterCount() + (1 << 20), "F16 file size " + Files.size(file));
            float[] fromFolder;
            try (StableDiffusionModel loaded = StableDiffusionModel.load(folder, null, new ModelHasher())) {
                assertSameModel(model, loaded, true);
                fromFolder = unetOutput(loaded);
            }
            try (StableDiffusionModel loaded = StableDiffusionModel.load(file, null, new ModelHasher())) {
                assertSameModel(model, loaded, false);
                assertArrayEquals(fromFolder, unetOutput(loaded), "U-Net output, folder vs single file");
            }
        }
    }

    private static void assertSameModel(StableDiffusionModel expected, StableDiffusionModel loaded, boolean folder) {
        String layout = folder ? "folder" : "single file";
        assertEquals(expected.unet().config(), loaded.unet().config(), layout + " U-Net config");
        assertEquals(expected.textEncoder().config(), loaded.textEncoder().config(), layout + " text encoder config");
        VaeConfig vae = loaded.vae().config();
        // a single file does not record the VAE's training sample size
        VaeConfig expectedVae = folder ? expected.vae().config() : new VaeConfig(expected.vae().config().inChannels(),
                expected.vae().config().outChannels(), expected.vae().config().blockOutChannels(),
                expected.vae().config().layersPerBlock(), expected.vae().config().latentChannels(),
                expected.vae().config().normNumGroups(), vae.sampleSize(), expected.vae().config().scalingFactor());
        assertEquals(expectedVae, vae, layout + " VAE config");
        assertEquals(expected.scheduler(), loaded.scheduler(), layout + " scheduler");
        String prompt = "a watercolour of a lighthouse at dusk";
        assertArrayEquals(expected.tokenizer().encode(prompt), loaded.tokenizer().encode(prompt), layout + " tokenizer");
        assertSameF16Weights(expected.unet(), loaded.unet(), layout + " U-Net");
        assertSameF16Weights(expected.vae(), loaded.vae(), layout + " VAE");
        assertSameF16Weights(expected.textEncoder(), loaded.textEncoder(), layout + " text encoder");
    }

    /** Every loaded value is the in-memory value rounded to F16 and widened back, bit for bit. */
    private static void assertSameF16Weights(Module expected, Module loaded, String what) {
        Map<String, Parameter> loadedParameters = loaded.namedParameters();
        assertEquals(expected.namedParameters().keySet(), loadedParameters.keySet(), what + " parameter names");
        for (Map.Entry<String, Parameter> e : expected.namedParameters().entrySet()) {
            Parameter actual = loadedParameters.get(e.getKey());
            assertEquals(e.getValue().shape(), actual.shape(), what + " " + e.getKey());
            float[] in = e.getValue().value().toFloatArray();
            float[] out = actual.value().toFloatArray();
            for (int i = 0; i < in.length; i++) {
                float rounded = HalfFloats.f16ToFloat(HalfFloats.floatToF16(in[i]));
                if (Float.floatToRawIntBits(rounded) != Float.floatToRawIntBits(out[i])) {
                    fail(what + " " + e.getKey() + "[" + i + "]: expected " + rounded + " (F16 of " + in[i] + "), loaded " + out[i]);
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
