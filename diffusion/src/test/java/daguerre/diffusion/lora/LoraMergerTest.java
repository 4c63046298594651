package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.weights.Golden;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import daguerre.weights.safetensors.HalfFloats;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Path;

/** Merging LoRAs into a model and removing them: the base weights come back bit for bit, nothing leaks. */
class LoraMergerTest {

    /** Every weight of every network as raw float32 bits (16-bit weights widen exactly), and the arrays themselves. */
    private record Snapshot(Map<String, int[]> bits, Map<String, NDArray> arrays) {
        static Snapshot of(Map<LoraNetwork, Module> networks) {
            Map<String, int[]> bits = new LinkedHashMap<>();
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            networks.forEach((network, module) -> module.namedParameters().forEach((key, p) -> {
                float[] values = p.floats();
                int[] raw = new int[values.length];
                for (int i = 0; i < raw.length; i++) {
                    raw[i] = Float.floatToRawIntBits(values[i]);
                }
                bits.put(network + " " + key, raw);
                arrays.put(network + " " + key, p.value());
            }));
            return new Snapshot(bits, arrays);
        }
    }

    @ParameterizedTest
    @EnumSource(value = WeightPrecision.class, names = {"FLOAT32", "FLOAT16", "BFLOAT16"})
    void hundredMergesAndRemovalsLeaveEveryWeightBitIdenticalAndNothingBehind(WeightPrecision precision) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, precision);
            List<String> files = TinyLoraCase.loraFiles();
            LoraFile first = LoraMerger.read(Golden.file(TinyLoraCase.CASE, files.get(0)), networks);
            LoraFile last = LoraMerger.read(Golden.file(TinyLoraCase.CASE, files.get(files.size() - 1)), networks);
            Snapshot base = Snapshot.of(networks);
            int arrays = manager.getManagedArrays().size();

            for (int round = 0; round < 100; round++) {
                List<WeightedLora> set = List.of(new WeightedLora(first, 0.6f + round * 0.01f, 1.0f),
                        new WeightedLora(last, -0.5f, 0.3f));
                AppliedLoras applied = LoraMerger.merge(networks, set);
                if (round == 0) {
                    // the merge changed the targets, kept their types, and left every other weight alone
                    Snapshot merged = Snapshot.of(networks);
                    int changed = 0;
                    for (String name : base.bits.keySet()) {
                        if (!java.util.Arrays.equals(base.bits.get(name), merged.bits.get(name))) {
                            changed++;
                        }
                    }
                    assertEquals(applied.patchedWeights(), changed, "weights changed by the merge");
                    assertTrue(changed >= Math.max(first.modules().size(), last.modules().size()));
                    for (LoraModule m : first.modules()) {
                        Parameter p = networks.get(m.network()).namedParameters().get(m.target());
                        assertEquals(precision.storageType(DataType.FLOAT32, p.shape()), p.dataType(), m.target());
                    }
                }
                applied.remove();
                applied.remove(); // a second removal does nothing
            }

            Snapshot after = Snapshot.of(networks);
            for (String name : base.bits.keySet()) {
                assertArrayEquals(base.bits.get(name), after.bits.get(name), name + " is not bit-identical");
                assertSame(base.arrays.get(name), after.arrays.get(name), name + ": the original array is not back");
            }
            assertEquals(arrays, manager.getManagedArrays().size(), "arrays left in the model's manager");
        }
    }

    /** In a 16-bit model the merge is done in float32 and rounded once to the weight's own type. */
    @ParameterizedTest
    @EnumSource(value = WeightPrecision.class, names = {"FLOAT16", "BFLOAT16"})
    void sixteenBitWeightsMergeInFloat32AndRoundOnce(WeightPrecision precision) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, precision);
            LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, TinyLoraCase.loraFiles().get(0)), networks);
            LoraModule module = lora.modules().get(0);
            Parameter p = networks.get(module.network()).namedParameters().get(module.target());
            float[] base = p.floats();
            double[] exact = reference(base, List.of(module), List.of(0.8f));
            try (AppliedLoras applied = LoraMerger.merge(networks, List.of(WeightedLora.of(lora, 0.8f)))) {
                assertEquals(precision == WeightPrecision.FLOAT16 ? DataType.FLOAT16 : DataType.BFLOAT16, p.dataType());
                float[] merged = p.floats();
                int changed = 0;
                for (int i = 0; i < merged.length; i++) {
                    // kept in 16 bits, rounded once from the float32 sum: within one 16-bit step of the exact value
                    float rounded = round16(merged[i], precision);
                    assertEquals(rounded, merged[i], "element " + i + " is not a 16-bit value");
                    double step = step16((float) exact[i], precision);
                    assertTrue(Math.abs(merged[i] - exact[i]) <= step,
                            "element " + i + ": " + merged[i] + " vs exact " + exact[i]);
                    if (merged[i] != base[i]) {
                        changed++;
                    }
                }
                assertTrue(changed > merged.length / 2, "the merge changed only " + changed + " of " + merged.length);
            }
        }
    }

    /** The spacing of 16-bit values at x: float32's ulp times 2^13 (float16's 10-bit mantissa) or 2^16 (bfloat16's 7). */
    private static double step16(float x, WeightPrecision precision) {
        return precision == WeightPrecision.FLOAT16 ? Math.max(Math.ulp(x) * 8192.0, 0x1p-24) : Math.ulp(x) * 65536.0;
    }

    private static float round16(float value, WeightPrecision precision) {
        return precision == WeightPrecision.FLOAT16
                ? HalfFloats.f16ToFloat(HalfFloats.floatToF16(value))
                : HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(value));
    }

    /** W + sum_j s_j (alpha_j / r_j) up_j @ down_j, in double, from the modules' own factors. */
    private static double[] reference(float[] weight, List<LoraModule> modules, List<Float> scales) {
        double[] out = new double[weight.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = weight[i];
        }
        for (int j = 0; j < modules.size(); j++) {
            LoraModule m = modules.get(j);
            int rank = m.rank();
            int inner = m.innerSize();
            double factor = scales.get(j) * (double) m.alpha() / rank;
            for (int o = 0; o < m.outFeatures(); o++) {
                for (int i = 0; i < inner; i++) {
                    double sum = 0;
                    for (int k = 0; k < rank; k++) {
                        sum += (double) m.up()[o * rank + k] * m.down()[k * inner + i];
                    }
                    out[o * inner + i] += factor * sum;
                }
            }
        }
        return out;
    }

    @Test
    void weightZeroChangesNothing() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, WeightPrecision.FLOAT32);
            LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, TinyLoraCase.loraFiles().get(0)), networks);
            Snapshot base = Snapshot.of(networks);
            try (AppliedLoras applied = LoraMerger.merge(networks, List.of(WeightedLora.of(lora, 0f)))) {
                assertEquals(0, applied.patchedWeights());
                Snapshot merged = Snapshot.of(networks);
                base.arrays.forEach((name, array) -> assertSame(array, merged.arrays.get(name), name));
            }
            // U-Net only: the text encoder keeps its arrays
            try (AppliedLoras applied = LoraMerger.merge(networks, List.of(new WeightedLora(lora, 1f, 0f)))) {
                assertEquals(lora.modules(LoraNetwork.UNET).size(), applied.patchedWeights());
                networks.get(LoraNetwork.TEXT_ENCODER).namedParameters().forEach((key, p) ->
                        assertSame(base.arrays.get(LoraNetwork.TEXT_ENCODER + " " + key), p.value(), key));
            }
        }
    }

    /** Two LoRAs on one weight add up: W + s1 d1 + s2 d2; stacked merges come off in reverse order only. */
    @Test
    void lorasAddUpAndStackedMergesComeOffInReverse() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, WeightPrecision.FLOAT32);
            List<String> files = TinyLoraCase.loraFiles();
            LoraFile a = LoraMerger.read(Golden.file(TinyLoraCase.CASE, files.get(0)), networks);
            LoraFile b = LoraMerger.read(Golden.file(TinyLoraCase.CASE, files.get(files.size() - 1)), networks);
            LoraModule ma = a.modules().get(0);
            LoraModule mb = b.modules().stream().filter(m -> m.target().equals(ma.target()) && m.network() == ma.network())
                    .findFirst().orElseThrow();
            Parameter p = networks.get(ma.network()).namedParameters().get(ma.target());
            double[] expected = reference(p.floats(), List.of(ma, mb), List.of(0.7f, -0.2f));
            try (AppliedLoras both = LoraMerger.merge(networks, List.of(WeightedLora.of(a, 0.7f), WeightedLora.of(b, -0.2f)))) {
                float[] merged = p.floats();
                double maxAbs = 0;
                for (double v : expected) {
                    maxAbs = Math.max(maxAbs, Math.abs(v));
                }
                for (int i = 0; i < merged.length; i++) {
                    // a few float32 roundings at the weight's magnitude
                    assertEquals(expected[i], merged[i], 4 * Math.ulp((float) maxAbs), "element " + i);
                }
            }

            Snapshot base = Snapshot.of(networks);
            AppliedLoras outer = LoraMerger.merge(networks, List.of(WeightedLora.of(a, 1f)));
            AppliedLoras inner = LoraMerger.merge(networks, List.of(WeightedLora.of(b, 1f)));
            assertThrows(IllegalStateException.class, outer::remove);
            inner.remove();
            outer.remove();
            Snapshot after = Snapshot.of(networks);
            base.bits.forEach((name, bits) -> assertArrayEquals(bits, after.bits.get(name), name));
        }
    }

    @Test
    void loraReadAgainstAnotherModelIsRefusedNamingTheKey() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, WeightPrecision.FLOAT32);
            LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, TinyLoraCase.loraFiles().get(0)), networks);
            Map<LoraNetwork, Module> unetOnly = Map.of(LoraNetwork.UNET, networks.get(LoraNetwork.UNET));
            Snapshot base = Snapshot.of(unetOnly);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LoraMerger.merge(unetOnly, List.of(WeightedLora.of(lora, 1f))));
            assertTrue(e.getMessage().contains("lora_te") || e.getMessage().contains("text_encoder."), e.getMessage());
            Snapshot after = Snapshot.of(unetOnly);
            base.arrays.forEach((name, array) -> assertSame(array, after.arrays.get(name), name));
            assertNotEquals(0, lora.modules(LoraNetwork.TEXT_ENCODER).size());
        }
    }

    /** On a loaded model kept in float16: every LoRA module lands on the model's networks; removal restores every array. */
    @Test
    void mergesIntoALoadedModel(@TempDir Path temp) throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher(),
                WeightPrecision.FLOAT16)) {
            Map<String, NDArray> before = new LinkedHashMap<>();
            for (Module network : model.networks()) {
                network.namedParameters().forEach((key, p) -> before.put(network.getClass().getSimpleName() + " " + key, p.value()));
            }
            int arrays = model.manager().getManagedArrays().size();
            for (String file : TinyLoraCase.loraFiles()) {
                LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, file), model);
                try (AppliedLoras applied = LoraMerger.merge(model, List.of(WeightedLora.of(lora, 1f)))) {
                    assertEquals(lora.modules().size(), applied.patchedWeights(), file);
                    for (LoraModule m : lora.modules()) {
                        Module network = m.network() == LoraNetwork.UNET ? model.unet() : model.textEncoder();
                        NDArray original = before.get(network.getClass().getSimpleName() + " " + m.target());
                        assertTrue(original != network.namedParameters().get(m.target()).value(), m.target() + " not patched");
                        assertEquals(DataType.FLOAT16, network.namedParameters().get(m.target()).dataType(), m.target());
                    }
                }
            }
            for (Module network : model.networks()) {
                network.namedParameters().forEach((key, p) ->
                        assertSame(before.get(network.getClass().getSimpleName() + " " + key), p.value(), key));
            }
            assertEquals(arrays, model.manager().getManagedArrays().size(), "arrays left in the model's manager");
        }
    }
}
