package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.Linear;
import daguerre.diffusion.nn.LowRankBranch;
import daguerre.diffusion.nn.Module;
import daguerre.weights.Golden;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraKind;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The runtime (unmerged) low-rank branch of {@link Linear} and {@link Conv2d}: per batch row, the
 * layer with a branch of factor s computes what the layer with the merged weight computes, and a row
 * of factor 0 what the bare layer computes. Layers and factors from the golden LoCon file.
 */
class LowRankBranchTest {

    @ParameterizedTest
    @EnumSource(LoraKind.class)
    void branchPerRowMatchesMergedWeightAndBareLayer(LoraKind kind) throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile unetWeights = Golden.tensors(TinyLoraCase.unetCase(), "unet_diffusers.safetensors")) {
            Map<LoraNetwork, Map<String, long[]>> shapes = new EnumMap<>(LoraNetwork.class);
            Map<String, long[]> unet = new LinkedHashMap<>();
            for (String name : unetWeights.names()) {
                unet.put(name, unetWeights.shape(name));
            }
            shapes.put(LoraNetwork.UNET, unet);
            Map<String, long[]> text = new LinkedHashMap<>();
            try (SafetensorsFile textWeights = Golden.tensors(TinyLoraCase.textCase(), "text_encoder_transformers.safetensors")) {
                for (String name : textWeights.names()) {
                    text.put(name, textWeights.shape(name));
                }
            }
            shapes.put(LoraNetwork.TEXT_ENCODER, text);
            // a U-Net module of the kind from the LoCon file (it has all three)
            LoraFile lora = LoraFile.read(Golden.file(TinyLoraCase.CASE, locon()), shapes);
            LoraModule module = lora.modules(LoraNetwork.UNET).stream().filter(m -> m.kind() == kind).findFirst().orElseThrow();
            long[] w = module.targetShape();
            String prefix = module.target().substring(0, module.target().length() - "weight".length());
            float scale = 0.7f;
            float factor = LoraMath.factor(module, scale);
            Random random = new Random(3);

            Module bare;
            Module merged;
            Function<NDArray, NDArray> bareForward;
            Function<NDArray, NDArray> mergedForward;
            Function<LowRankBranch, NDArray> branchForward;
            NDArray x;
            NDArray down;
            NDArray up;
            if (kind == LoraKind.LINEAR) {
                Linear a = new Linear((int) w[1], (int) w[0], unet.containsKey(prefix + "bias"));
                Linear b = new Linear((int) w[1], (int) w[0], unet.containsKey(prefix + "bias"));
                bare = a;
                merged = b;
                x = gaussian(manager, random, new Shape(2, 5, w[1]));
                NDArray input = x;
                bareForward = a::forward;
                mergedForward = b::forward;
                branchForward = br -> a.forward(input, List.of(br));
                down = manager.create(module.down(), new Shape(module.rank(), w[1]));
                up = manager.create(module.up(), new Shape(w[0], module.rank()));
            } else {
                int k = (int) w[2];
                Conv2d a = new Conv2d((int) w[1], (int) w[0], k, 1, k / 2);
                Conv2d b = new Conv2d((int) w[1], (int) w[0], k, 1, k / 2);
                bare = a;
                merged = b;
                x = gaussian(manager, random, new Shape(2, w[1], 6, 7));
                NDArray input = x;
                bareForward = a::forward;
                mergedForward = b::forward;
                branchForward = br -> a.forward(input, List.of(br));
                down = manager.create(module.down(), new Shape(module.rank(), w[1], w[2], w[3]));
                up = manager.create(module.up(), new Shape(w[0], module.rank(), 1, 1));
            }
            for (Map.Entry<String, daguerre.diffusion.nn.Parameter> e : bare.namedParameters().entrySet()) {
                e.getValue().set(unetWeights.floats(prefix + e.getKey()), manager, DataType.FLOAT32);
            }
            for (Map.Entry<String, daguerre.diffusion.nn.Parameter> e : merged.namedParameters().entrySet()) {
                float[] values = unetWeights.floats(prefix + e.getKey());
                if (e.getKey().equals("weight")) {
                    NDArray base = manager.create(values, new Shape(w));
                    NDArray delta = LoraMath.delta(LoraMath.up(module, manager), LoraMath.down(module, manager));
                    values = LoraMath.add(base, delta, factor).toFloatArray();
                }
                e.getValue().set(values, manager, DataType.FLOAT32);
            }

            NDArray scales = manager.create(new float[] {factor, 0f});
            int arrays = manager.getManagedArrays().size();
            NDArray withBranch = branchForward.apply(new LowRankBranch(down, up, scales));
            assertEquals(arrays + 1, manager.getManagedArrays().size(), "temporaries left behind");
            NDArray expectedMerged = mergedForward.apply(x);
            NDArray expectedBare = bareForward.apply(x);
            assertClose(expectedMerged.get(0), withBranch.get(0), kind + " row with the branch");
            assertClose(expectedBare.get(1), withBranch.get(1), kind + " row without it");
            assertTrue(maxAbs(expectedMerged.get(0).sub(expectedBare.get(0))) > 1e-3, "the branch changes nothing");
        }
    }

    private static String locon() {
        List<String> files = new ArrayList<>(TinyLoraCase.loraFiles());
        return files.stream().filter(f -> f.startsWith("locon") && f.contains("kohya")).findFirst().orElseThrow();
    }

    private static void assertClose(NDArray expected, NDArray actual, String what) {
        double scale = maxAbs(expected);
        double error = maxAbs(expected.sub(actual));
        // float32 roundings of a sum of a few hundred terms, at the output's magnitude
        assertTrue(error <= 1e-5 * scale + 1e-6, what + ": max abs error " + error + " (output max " + scale + ")");
    }

    private static double maxAbs(NDArray a) {
        return a.abs().max().getFloat();
    }

    private static NDArray gaussian(NDManager manager, Random random, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return manager.create(values, shape);
    }
}
