package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.LowRankBranch;
import daguerre.diffusion.nn.LowRankBranches;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.weights.Golden;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraNetwork;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Parity of merged and runtime (unmerged) LoRAs with diffusers ({@code fuse_lora} and the runtime scale) on the tiny golden
 * models: U-Net output and text-encoder hidden states at every scale the case has outputs for, for
 * every LoRA file of the case, within {@link Parity#FACTOR} times the README's float32-vs-float64 error.
 */
class LoraParityTest {

    private static final Pattern SCALED_UNET = Pattern.compile("(.+)_scale([0-9.]+)_(fused|runtime)_out_sample");
    private static final Pattern SCALED_TEXT = Pattern.compile("te_scale([0-9.]+)_(fused|runtime)_(.+)");

    /** Merged into the weights ({@link LoraMerger}), or run beside the layers ({@link RuntimeLoras}). */
    enum Application { MERGED, RUNTIME }

    static List<Arguments> loraFilesAndApplications() {
        List<Arguments> cases = new ArrayList<>();
        for (String file : TinyLoraCase.loraFiles()) {
            for (Application application : Application.values()) {
                cases.add(Arguments.of(file, application));
            }
        }
        return cases;
    }

    @ParameterizedTest
    @MethodSource("loraFilesAndApplications")
    void loraMatchesDiffusers(String fileName, Application application) throws IOException {
        String stem = TinyLoraCase.stem(fileName);
        Map<String, Double> observed = Parity.observedErrors(TinyLoraCase.CASE);
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile outputs = Golden.tensors(TinyLoraCase.CASE, "outputs.safetensors");
             SafetensorsFile unetIo = Golden.tensors(TinyLoraCase.unetCase(), "inputs_outputs.safetensors");
             SafetensorsFile textIo = Golden.tensors(TinyLoraCase.textCase(), "inputs_outputs.safetensors")) {
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, WeightPrecision.FLOAT32);
            UNet2DConditionModel unet = (UNet2DConditionModel) networks.get(LoraNetwork.UNET);
            ClipTextModel text = (ClipTextModel) networks.get(LoraNetwork.TEXT_ENCODER);
            LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, fileName), networks);

            // the scales the case has outputs for, and which of them it has per network
            Map<String, List<String>> unetOutputs = new TreeMap<>();
            Map<String, List<String>> textOutputs = new TreeMap<>();
            for (String name : outputs.names()) {
                Matcher u = SCALED_UNET.matcher(name);
                if (u.matches() && u.group(1).equals(stem)) {
                    unetOutputs.computeIfAbsent(u.group(2), s -> new ArrayList<>()).add(name);
                }
                Matcher t = SCALED_TEXT.matcher(name);
                if (t.matches() && !lora.modules(LoraNetwork.TEXT_ENCODER).isEmpty()) {
                    textOutputs.computeIfAbsent(t.group(1), s -> new ArrayList<>()).add(name);
                }
            }
            assertFalse(unetOutputs.isEmpty(), "outputs.safetensors has no " + stem + "_scale<s>_<fused|runtime>_out_sample");
            TreeSet<String> scales = new TreeSet<>(unetOutputs.keySet());
            scales.addAll(textOutputs.keySet());
            List<String> report = new ArrayList<>();
            for (String scale : scales) {
                float s = Float.parseFloat(scale);
                try (NDManager request = manager.newSubManager()) {
                    List<RuntimeLoras.Use> uses = List.of(new RuntimeLoras.Use(RuntimeLora.upload(lora, networks, request), s, s));
                    AppliedLoras applied = application == Application.MERGED
                            ? LoraMerger.merge(networks, List.of(WeightedLora.of(lora, s))) : null;
                    try {
                        if (applied != null) {
                            assertEquals(lora.modules().size(), applied.patchedWeights());
                        }
                        for (String name : unetOutputs.getOrDefault(scale, List.of())) {
                            NDArray sample = Parity.load(unetIo, "sample", request);
                            Map<Parameter, List<LowRankBranch>> branches = applied != null ? Map.of()
                                    : RuntimeLoras.unetBranches(List.of(new RuntimeLoras.Rows((int) sample.getShape().get(0), uses)), request);
                            NDArray timesteps = Parity.timesteps(unetIo, "timestep", request);
                            NDArray context = Parity.load(unetIo, "encoder_hidden_states", request);
                            NDArray out = LowRankBranches.during(branches, () -> unet.forward(sample, timesteps, context));
                            report.add(name + "=" + String.format("%.3g",
                                    Parity.assertClose(outputs, name, out, Parity.tolerance(observed, name))));
                        }
                        NDArray ids = request.create(textIo.longs("input_ids"), new Shape(textIo.info("input_ids").shape()));
                        Map<Parameter, List<LowRankBranch>> textBranches = applied != null ? Map.of()
                                : RuntimeLoras.textEncoderBranches(uses, request);
                        for (String name : textOutputs.getOrDefault(scale, List.of())) {
                            NDArray out = LowRankBranches.during(textBranches, () -> textOutput(text, ids, name));
                            report.add(name + "=" + String.format("%.3g",
                                    Parity.assertClose(outputs, name, out, Parity.tolerance(observed, name))));
                        }
                    } finally {
                        if (applied != null) {
                            applied.remove();
                        }
                    }
                }
            }
            System.out.println(fileName + " " + application + " max abs errors: " + String.join(", ", report));
        }
    }

    /** The text output a golden name stands for: last_hidden_state, or final_layer_norm(hidden_states[-2]) (clip skip 2). */
    private static NDArray textOutput(ClipTextModel text, NDArray ids, String name) {
        if (name.endsWith("_last_hidden_state")) {
            return text.lastHiddenState(ids);
        }
        if (name.endsWith("_penultimate_hidden_state_final_ln")) {
            return text.encode(ids, 2);
        }
        fail("unknown text-encoder output " + name);
        return null;
    }

    /**
     * {@code fused_weights.safetensors}: weights after {@code fuse_lora(lora_scale=s)} of the file its
     * metadata names, keys {@code scale<s>.<network>.<module>.weight}; the merge rule gives them to a few
     * float32 roundings (diffusers sums the rank in another order).
     */
    @Test
    void mergedWeightsMatchFuseLora() throws IOException {
        Pattern key = Pattern.compile("scale([0-9.]+)\\.([a-z_0-9]+)\\.(.+)");
        try (NDManager manager = NDManager.newBaseManager();
             SafetensorsFile fused = Golden.tensors(TinyLoraCase.CASE, "fused_weights.safetensors")) {
            Matcher source = Pattern.compile("of (\\S+\\.safetensors)").matcher(fused.metadata().getOrDefault("description", ""));
            assertTrue(source.find(), "fused_weights.safetensors' description names no LoRA file");
            Map<LoraNetwork, Module> networks = TinyLoraCase.loadBase(manager, WeightPrecision.FLOAT32);
            LoraFile lora = LoraMerger.read(Golden.file(TinyLoraCase.CASE, source.group(1)), networks);
            Map<String, List<String>> byScale = new TreeMap<>();
            for (String name : fused.names()) {
                Matcher m = key.matcher(name);
                assertTrue(m.matches(), "unexpected key " + name);
                byScale.computeIfAbsent(m.group(1), s -> new ArrayList<>()).add(name);
            }
            assertFalse(byScale.isEmpty());
            List<String> report = new ArrayList<>();
            for (Map.Entry<String, List<String>> e : byScale.entrySet()) {
                try (AppliedLoras applied = LoraMerger.merge(networks, List.of(WeightedLora.of(lora, Float.parseFloat(e.getKey()))))) {
                    for (String name : e.getValue()) {
                        Matcher m = key.matcher(name);
                        assertTrue(m.matches());
                        Parameter p = parameter(networks, m.group(2), m.group(3));
                        float[] expected = fused.floats(name);
                        float[] actual = p.floats();
                        assertEquals(expected.length, actual.length, name);
                        double maxAbs = 0;
                        double maxErr = 0;
                        for (int i = 0; i < expected.length; i++) {
                            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
                            maxErr = Math.max(maxErr, Math.abs((double) expected[i] - actual[i]));
                        }
                        // a few roundings of float32 at the tensor's magnitude
                        double tolerance = 4 * Math.ulp((float) maxAbs);
                        report.add(name + "=" + String.format("%.3g", maxErr));
                        assertTrue(maxErr <= tolerance, name + ": max abs error " + maxErr + " exceeds " + tolerance);
                    }
                }
            }
            System.out.println("fused weights max abs errors: " + String.join(", ", report));
        }
    }

    private static Parameter parameter(Map<LoraNetwork, Module> networks, String networkName, String key) {
        for (LoraNetwork network : LoraNetwork.values()) {
            if (network.diffusersPrefix().equals(networkName + ".")) {
                Parameter p = networks.get(network).namedParameters().get(key);
                assertTrue(p != null, network + " has no parameter " + key);
                return p;
            }
        }
        fail("unknown network " + networkName);
        return null;
    }
}
