package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Parity;
import daguerre.weights.Golden;
import daguerre.weights.TensorSource;
import daguerre.weights.layout.OriginalLayouts;
import org.junit.jupiter.params.provider.CsvSource;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Parity of the CLIP text transformer with transformers' CLIPTextModel on the tiny golden models. */
class ClipTextModelTest {

    /**
     * Per tensor: {@link Parity#FACTOR} times the case README's observed float32-vs-float64 error where its
     * table lists the tensor, else the README's suggested atol.
     */
    private static ToDoubleFunction<String> tolerances(String caseName) {
        Map<String, Double> observed = Parity.observedErrors(caseName);
        double suggested = Parity.suggestedAtol(caseName);
        return name -> observed.containsKey(name) ? Parity.tolerance(observed, name) : suggested;
    }

    @ParameterizedTest
    @CsvSource({"clip_text_tiny, transformers", "clip_text_tiny, original",
                "clip_text_tiny_gelu, transformers", "clip_text_tiny_gelu, original"})
    void matchesTransformersOutputs(String caseName, String layout) throws IOException {
        ClipTextConfig config = ClipTextConfig.load(Golden.file(caseName, "config.json"));
        ClipTextModel model = new ClipTextModel(config);
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile weights = Golden.tensors(caseName, "text_encoder_" + layout + ".safetensors");
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            TensorSource source = layout.equals("transformers") ? weights : originalView(weights, config);
            model.load(source, "", manager);
            if (layout.equals("transformers")) {
                assertEquals(weightCount(weights), model.parameterCount());
            }
            ToDoubleFunction<String> tolerance = tolerances(caseName);
            List<String> report = new ArrayList<>();
            try (NDManager request = manager.newSubManager()) {
                NDArray ids = request.create(io.longs("input_ids"), new Shape(io.info("input_ids").shape()));
                ClipTextOutput out = model.forward(ids);
                compare(io, "last_hidden_state", out.lastHiddenState(), tolerance, report);
                assertEquals(config.numHiddenLayers() + 1, out.hiddenStates().size());
                for (int k = 0; k <= config.numHiddenLayers(); k++) {
                    compare(io, "hidden_states_" + k, out.hiddenStates().get(k), tolerance, report);
                }
                compare(io, "penultimate_hidden_state", out.hiddenStateFromEnd(2), tolerance, report);
                compare(io, "pooler_output", out.poolerOutput(), tolerance, report);
                compare(io, "last_hidden_state", model.lastHiddenState(ids), tolerance, report);
                compare(io, "penultimate_hidden_state_final_ln", model.encode(ids, 2), tolerance, report);
                compare(io, "penultimate_hidden_state_final_ln", model.finalLayerNorm(out.hiddenStateFromEnd(2)), tolerance, report);
            }
            System.out.println(caseName + " max abs err: " + String.join(", ", report));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"clip_text_tiny"})
    void rejectsBadClipSkipAndOverlongInput(String caseName) throws IOException {
        ClipTextConfig config = ClipTextConfig.load(Golden.file(caseName, "config.json"));
        ClipTextModel model = new ClipTextModel(config);
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile weights = Golden.tensors(caseName, "text_encoder_transformers.safetensors")) {
            model.load(weights, "", manager);
            NDArray ids = manager.zeros(new Shape(1, config.maxPositionEmbeddings()), ai.djl.ndarray.types.DataType.INT64);
            assertThrows(IllegalArgumentException.class, () -> model.encode(ids, 0));
            assertThrows(IllegalArgumentException.class, () -> model.encode(ids, config.numHiddenLayers() + 1));
            NDArray tooLong = manager.zeros(new Shape(1, config.maxPositionEmbeddings() + 1), ai.djl.ndarray.types.DataType.INT64);
            assertThrows(IllegalArgumentException.class, () -> model.encode(tooLong, 1));
        }
    }

    private static long weightCount(SafetensorsFile file) throws IOException {
        long n = 0;
        for (String name : file.names()) {
            n += file.info(name).elementCount();
        }
        return n;
    }

    /** SD 1.x files hold the transformers keys under a prefix; SD 2.x files hold OpenCLIP's fused layout. */
    private static TensorSource originalView(SafetensorsFile file, ClipTextConfig config) throws IOException {
        return OriginalLayouts.hasPrefix(file, OriginalLayouts.OPEN_CLIP_TEXT_PREFIX)
                ? OriginalLayouts.openClipText(file, config.numHiddenLayers())
                : OriginalLayouts.clipText(file);
    }

    private static void compare(SafetensorsFile io, String name, NDArray actual, ToDoubleFunction<String> tolerances,
                                List<String> report) throws IOException {
        double tolerance = tolerances.applyAsDouble(name);
        long[] shape = io.info(name).shape();
        assertEquals(new Shape(shape), actual.getShape(), name);
        float[] expected = io.floats(name);
        float[] got = actual.toFloatArray();
        double maxErr = 0;
        for (int i = 0; i < expected.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(expected[i] - got[i]));
        }
        report.add(name + "=" + String.format("%.3g", maxErr));
        assertTrue(maxErr <= tolerance, name + ": max abs err " + maxErr + " > " + tolerance);
    }
}
