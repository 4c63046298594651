package daguerre.diffusion.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.weights.Golden;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Parity of an SDXL-class U-Net (added "text_time" conditioning, per-level transformer depth and
 * heads) with diffusers, in both checkpoint layouts. Shapes, config and tolerances come from the
 * case's files.
 */
class UNetXlParityTest {

    private static final String CASE = "unet_tiny_xl";

    /** The case's U-Net with the weights of {@code layout} ("diffusers" or "original") loaded into {@code manager}. */
    private static UNet2DConditionModel load(String layout, NDManager manager) throws IOException {
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(Golden.json(CASE, "config.json")));
        try (SafetensorsFile weightFile = Golden.tensors(CASE, "unet_" + layout + ".safetensors")) {
            // the original SGM layout is read through the weights module's rename view
            WeightLoader.load(unet, layout.equals("original") ? OriginalLayouts.unet(weightFile) : weightFile, "", manager);
        }
        return unet;
    }

    private static float[] timesteps(SafetensorsFile io, NDManager manager) throws IOException {
        NDArray steps = Parity.timesteps(io, "timestep", manager);
        return steps.toType(DataType.FLOAT32, false).toFloatArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"diffusers", "original"})
    void matchesDiffusers(String layout) throws Exception {
        Map<String, Double> observed = Parity.observedErrors(CASE);
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors");
             SafetensorsFile recorded = Golden.tensors(CASE, "intermediates.safetensors")) {
            UNet2DConditionModel unet = load(layout, weights);
            assertTrue(unet.config().hasTextTime(), CASE + "/config.json: expected addition_embed_type text_time");
            try (NDManager request = weights.newSubManager()) {
                NDArray sample = Parity.load(io, "sample", request);
                UNetConditioning conditioning = new UNetConditioning(
                        Parity.load(io, "encoder_hidden_states", request),
                        Parity.load(io, "text_embeds", request),
                        // time ids are numbers of any stored type (F32 here; I64 read as integers)
                        Parity.timesteps(io, "time_ids", request));
                Map<String, NDArray> intermediates = new TreeMap<>();
                NDArray out = unet.forward(sample, timesteps(io, request), conditioning, Capture.into(intermediates, request));

                Map<String, Double> errors = new TreeMap<>();
                errors.put("out_sample", Parity.assertClose(io, "out_sample", out, Parity.tolerance(observed, "out_sample")));
                assertTrue(recorded.names().size() > 0, CASE + "/intermediates.safetensors holds no tensors");
                for (String name : recorded.names()) {
                    assertTrue(intermediates.containsKey(name), "intermediate not recorded: " + name);
                    // golden intermediates hold batch element 0 only: its first rows along axis 0
                    // (one row, or for add_time_proj the N rows of element 0's time ids)
                    long rows = recorded.info(name).shape()[0];
                    NDArray first = intermediates.get(name).get(":" + rows);
                    errors.put(name, Parity.assertClose(recorded, name, first, Parity.tolerance(observed, name)));
                }
                assertEquals(request, out.getManager(), "output must live in the input's manager");
                System.out.println(CASE + " (" + layout + ") max abs errors: " + errors);
            }
        }
    }

    /** The added embedding's temporaries (time id embeddings, concat, cast) do not outlive the call. */
    @Test
    void forwardLeavesOnlyItsOutputBehind() throws Exception {
        try (NDManager weights = NDManager.newBaseManager();
             NDManager request = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors")) {
            UNet2DConditionModel unet = load("diffusers", weights);
            int weightArrays = weights.getManagedArrays().size();
            NDArray sample = Parity.load(io, "sample", request);
            UNetConditioning conditioning = new UNetConditioning(
                    Parity.load(io, "encoder_hidden_states", request),
                    Parity.load(io, "text_embeds", request),
                    // F64 time ids: the cast to float32 is a temporary too
                    Parity.load(io, "time_ids", request).toType(DataType.FLOAT64, false));
            float[] steps = timesteps(io, request);
            int inputArrays = request.getManagedArrays().size();

            NDArray out = unet.forward(sample, steps, conditioning);

            assertEquals(weightArrays, weights.getManagedArrays().size(), "arrays leaked into the weights' manager");
            assertEquals(inputArrays + 1, request.getManagedArrays().size(), "temporaries left in the input's manager");
            assertTrue(request.getManagedArrays().contains(out));
        }
    }

    @Test
    void sdxlConfigWithoutAddedInputsFailsClearly() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors")) {
            UNet2DConditionModel unet = load("diffusers", manager);
            NDArray sample = Parity.load(io, "sample", manager);
            NDArray context = Parity.load(io, "encoder_hidden_states", manager);
            float[] steps = timesteps(io, manager);

            // the SD 1.x/2.x overloads pass no added inputs
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, Parity.timesteps(io, "timestep", manager), context));
            assertTrue(e.getMessage().contains("text_time") && e.getMessage().contains("textEmbeds")
                    && e.getMessage().contains("timeIds"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> unet.forward(sample, steps, UNetConditioning.of(context)));
            assertTrue(e.getMessage().contains("textEmbeds"), e.getMessage());
        }
    }

    @Test
    void addedInputsOfTheWrongShapeFailNamingTheSizes() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors")) {
            UNet2DConditionModel unet = load("diffusers", manager);
            NDArray sample = Parity.load(io, "sample", manager);
            NDArray context = Parity.load(io, "encoder_hidden_states", manager);
            NDArray textEmbeds = Parity.load(io, "text_embeds", manager);
            NDArray timeIds = Parity.load(io, "time_ids", manager);
            float[] steps = timesteps(io, manager);
            long ids = timeIds.getShape().get(1);
            assertTrue(ids >= 2, CASE + ": time_ids needs at least 2 columns for this test, has " + ids);

            // one time id too few: add_embedding's input width no longer fits the config
            NDArray fewerIds = timeIds.get(":, 1:");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, steps, new UNetConditioning(context, textEmbeds, fewerIds)));
            assertTrue(e.getMessage().contains("projection_class_embeddings_input_dim")
                    && e.getMessage().contains(String.valueOf(unet.config().textTime().inputDim())), e.getMessage());

            // the batch of the added inputs must be the sample's
            NDArray oneText = textEmbeds.get(":1");
            e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, steps, new UNetConditioning(context, oneText, timeIds)));
            assertTrue(e.getMessage().contains("textEmbeds"), e.getMessage());
            NDArray flatIds = timeIds.flatten();
            e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, steps, new UNetConditioning(context, textEmbeds, flatIds)));
            assertTrue(e.getMessage().contains("timeIds"), e.getMessage());

            // both or neither
            e = assertThrows(IllegalArgumentException.class, () -> new UNetConditioning(context, textEmbeds, null));
            assertTrue(e.getMessage().contains("timeIds"), e.getMessage());
        }
    }

    @Test
    void sdModelRefusesAddedInputs() throws Exception {
        String sd = "unet_tiny";
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(sd, "inputs_outputs.safetensors")) {
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(Golden.json(sd, "config.json")));
            NDArray sample = Parity.load(io, "sample", manager);
            NDArray context = Parity.load(io, "encoder_hidden_states", manager);
            long batch = sample.getShape().get(0);
            NDArray textEmbeds = manager.zeros(new Shape(batch, 4));
            NDArray timeIds = manager.zeros(new Shape(batch, 6));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, new float[] {1f}, new UNetConditioning(context, textEmbeds, timeIds)));
            assertTrue(e.getMessage().contains("addition_embed_type"), e.getMessage());
        }
    }
}
