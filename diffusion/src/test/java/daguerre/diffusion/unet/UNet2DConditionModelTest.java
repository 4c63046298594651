package daguerre.diffusion.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.weights.Golden;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.safetensors.SafetensorsFile;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Parity of the whole U-Net and its recorded intermediates with diffusers (SD 1.x and 2.x toy configs). */
class UNet2DConditionModelTest {

    @ParameterizedTest
    @CsvSource({"unet_tiny, diffusers", "unet_tiny, original", "unet_tiny_v2, diffusers", "unet_tiny_v2, original"})
    void matchesDiffusers(String caseName, String layout) throws Exception {
        Map<String, Double> observed = Parity.observedErrors(caseName);
        UNetConfig config = UNetConfig.fromJson(Golden.json(caseName, "config.json"));
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile weightFile = Golden.tensors(caseName, "unet_" + layout + ".safetensors");
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors");
             SafetensorsFile recorded = Golden.tensors(caseName, "intermediates.safetensors")) {
            UNet2DConditionModel unet = new UNet2DConditionModel(config);
            // the original LDM layout is read through the weights module's rename view
            WeightLoader.load(unet, layout.equals("original") ? OriginalLayouts.unet(weightFile) : weightFile, "", weights);

            try (NDManager request = weights.newSubManager()) {
                NDArray sample = Parity.load(io, "sample", request);
                NDArray context = Parity.load(io, "encoder_hidden_states", request);
                NDArray timesteps = Parity.timesteps(io, "timestep", request);
                Map<String, NDArray> intermediates = new TreeMap<>();
                NDArray out = unet.forward(sample, timesteps, context, Capture.into(intermediates, request));

                Map<String, Double> errors = new TreeMap<>();
                errors.put("out_sample", Parity.assertClose(io, "out_sample", out, Parity.tolerance(observed, "out_sample")));
                for (String name : recorded.names()) {
                    assertTrue(intermediates.containsKey(name), "intermediate not recorded: " + name);
                    // golden intermediates hold batch element 0 only
                    NDArray first = intermediates.get(name).get(0).expandDims(0);
                    errors.put(name, Parity.assertClose(recorded, name, first, Parity.tolerance(observed, name)));
                }
                assertEquals(request, out.getManager(), "output must live in the input's manager");
                System.out.println(caseName + " max abs errors: " + errors);
            }
        }
    }

    /**
     * At the case's own size and at 8x8 latents, whose lower levels are maps of 8x8 and less (the
     * im2col + GEMM path of {@code Conv2d}), with every fused kernel and with none.
     */
    @ParameterizedTest
    @CsvSource({"0, true", "0, false", "8, true", "8, false"})
    void forwardLeavesOnlyItsOutputBehind(int size, boolean fused) throws Exception {
        String caseName = "unet_tiny";
        UNetConfig config = UNetConfig.fromJson(Golden.json(caseName, "config.json"));
        try (NDManager weights = NDManager.newBaseManager();
             NDManager request = NDManager.newBaseManager();
             SafetensorsFile weightFile = Golden.tensors(caseName, "unet_diffusers.safetensors");
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            UNet2DConditionModel unet = new UNet2DConditionModel(config);
            unet.useKernels(Kernels.all(fused));
            WeightLoader.load(unet, weightFile, "", weights);
            int weightArrays = weights.getManagedArrays().size();
            NDArray sample = Parity.load(io, "sample", request);
            if (size > 0) {
                NDArray view = sample.get(":, :, :" + size + ", :" + size);  // [B, C, size, size]
                NDArray part = view.duplicate();
                view.close();
                sample.close();
                sample = part;
            }
            NDArray context = Parity.load(io, "encoder_hidden_states", request);
            NDArray timesteps = Parity.timesteps(io, "timestep", request);
            int inputArrays = request.getManagedArrays().size();

            NDArray out = unet.forward(sample, timesteps, context);

            assertEquals(weightArrays, weights.getManagedArrays().size(), "arrays leaked into the weights' manager");
            assertEquals(inputArrays + 1, request.getManagedArrays().size(), "temporaries left in the input's manager");
            assertTrue(request.getManagedArrays().contains(out));
        }
    }

    @Test
    void latentSizeNotAMultipleOfTheDownsamplingFactor() throws Exception {
        String caseName = "unet_tiny_v2";
        UNetConfig config = UNetConfig.fromJson(Golden.json(caseName, "config.json"));
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile weightFile = Golden.tensors(caseName, "unet_diffusers.safetensors")) {
            UNet2DConditionModel unet = new UNet2DConditionModel(config);
            WeightLoader.load(unet, weightFile, "", manager);
            Random random = new Random(7);
            NDArray sample = gaussian(manager, random, new Shape(1, config.inChannels(), 7, 5));
            NDArray context = gaussian(manager, random, new Shape(1, 3, config.crossAttentionDim()));
            NDArray out = unet.forward(sample, manager.create(new float[] {250.5f}), context);
            assertEquals(new Shape(1, config.outChannels(), 7, 5), out.getShape());
        }
    }

    private static NDArray gaussian(NDManager manager, Random random, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return manager.create(values, shape);
    }
}
