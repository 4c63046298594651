package daguerre.diffusion.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.unet.UNet2DConditionModel.CachingOutput;
import daguerre.diffusion.unet.UNet2DConditionModel.DeepFeatures;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DeepCache's split of the U-Net into a deep and a shallow part (SD 1.x, SD 2.x with attention at
 * level 0, SDXL with its added embedding): the full pass that keeps the deep features is the plain
 * pass, the features it keeps are diffusers' input of the last up block, and a shallow pass fed the
 * features of the same step reproduces diffusers' output.
 */
class UNetStepCacheTest {

    /** A golden case's U-Net and its inputs, in {@code manager}. */
    private record Case(UNet2DConditionModel unet, NDArray sample, float[] timesteps, UNetConditioning conditioning) {}

    private static Case load(String caseName, SafetensorsFile io, NDManager manager) throws IOException {
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(Golden.json(caseName, "config.json")));
        try (SafetensorsFile weights = Golden.tensors(caseName, "unet_diffusers.safetensors")) {
            WeightLoader.load(unet, weights, "", manager);
        }
        NDArray context = Parity.load(io, "encoder_hidden_states", manager);
        UNetConditioning conditioning = unet.config().hasTextTime()
                ? new UNetConditioning(context, Parity.load(io, "text_embeds", manager), Parity.timesteps(io, "time_ids", manager))
                : UNetConditioning.of(context);
        float[] timesteps = Parity.timesteps(io, "timestep", manager).toType(DataType.FLOAT32, false).toFloatArray();
        return new Case(unet, Parity.load(io, "sample", manager), timesteps, conditioning);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet_tiny", "unet_tiny_v2", "unet_tiny_xl"})
    void aShallowPassOnTheSameStepsDeepFeaturesIsTheFullPass(String caseName) throws Exception {
        Map<String, Double> observed = Parity.observedErrors(caseName);
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors");
             SafetensorsFile recorded = Golden.tensors(caseName, "intermediates.safetensors")) {
            Case c = load(caseName, io, manager);
            UNet2DConditionModel unet = c.unet();
            int levels = unet.config().levels();

            NDArray plain = unet.forward(c.sample(), c.timesteps(), c.conditioning());
            CachingOutput caching = unet.forwardKeepingDeepFeatures(c.sample(), c.timesteps(), c.conditioning());
            // keeping the deep features changes nothing of the full pass: the same operations, the same bits
            assertArrayEquals(plain.toFloatArray(), caching.output().toFloatArray(), caseName + ": caching full pass");

            // the kept features are the input of the last up block, i.e. diffusers' output of up block L-2
            String deepName = "up_blocks." + (levels - 2);
            NDArray deep = caching.deep().features();
            assertEquals(new Shape(c.sample().getShape().get(0), unet.deepFeatureChannels(), c.sample().getShape().get(2),
                    c.sample().getShape().get(3)), deep.getShape());
            Parity.assertClose(recorded, deepName, deep.get(0).expandDims(0), Parity.tolerance(observed, deepName));

            // a shallow pass on the features of the same step: diffusers' output, and the full pass up to rounding
            NDArray shallow = unet.forwardShallow(c.sample(), c.timesteps(), c.conditioning(), caching.deep());
            double tolerance = Parity.tolerance(observed, "out_sample");
            double vsGolden = Parity.assertClose(io, "out_sample", shallow, tolerance);
            double vsFull = maxAbs(shallow, plain);
            assertTrue(vsFull <= tolerance, caseName + ": shallow vs full pass " + vsFull + " > " + tolerance);
            System.out.println(caseName + ": shallow pass vs golden " + vsGolden + ", vs full pass " + vsFull);

            // the shallow pass really recomputes the shallow blocks from the sample...
            NDArray otherSample = c.sample().mul(0.5f);
            NDArray fresh = unet.forwardShallow(otherSample, c.timesteps(), c.conditioning(), caching.deep());
            assertTrue(maxAbs(fresh, shallow) > 100 * tolerance, caseName + ": the shallow pass ignored its sample");
            // ...and uses the cached features: those of another timestep change its output
            float[] later = c.timesteps().clone();
            for (int i = 0; i < later.length; i++) {
                later[i] = later[i] + 300;
            }
            DeepFeatures stale = unet.forwardKeepingDeepFeatures(c.sample(), later, c.conditioning()).deep();
            NDArray reused = unet.forwardShallow(c.sample(), c.timesteps(), c.conditioning(), stale);
            assertTrue(maxAbs(reused, shallow) > 100 * tolerance, caseName + ": the shallow pass ignored the deep features");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet_tiny", "unet_tiny_xl"})
    void passesLeaveOnlyTheirOutputsBehindAndRefuseMisshapenFeatures(String caseName) throws Exception {
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            Case c = load(caseName, io, weights);
            try (NDManager request = weights.newSubManager()) {
                NDArray sample = c.sample().duplicate();
                sample.attach(request);
                int before = request.getManagedArrays().size();
                CachingOutput caching = c.unet().forwardKeepingDeepFeatures(sample, c.timesteps(), c.conditioning());
                assertEquals(before + 2, request.getManagedArrays().size(), "a full pass keeps its output and the deep features");
                NDArray shallow = c.unet().forwardShallow(sample, c.timesteps(), c.conditioning(), caching.deep());
                assertEquals(before + 3, request.getManagedArrays().size(), "a shallow pass keeps its output only");
                assertEquals(request, shallow.getManager());
                assertEquals(request, caching.deep().features().getManager());

                NDArray half = caching.deep().features().get(":, :, :4, :4");
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> c.unet().forwardShallow(sample, c.timesteps(), c.conditioning(), new DeepFeatures(half)));
                assertTrue(e.getMessage().contains("deep features"), e.getMessage());
            }
        }
    }

    private static double maxAbs(NDArray a, NDArray b) {
        return a.sub(b).abs().max().getFloat();
    }
}
