package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConditioning;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The golden cases with weights kept in float16 and bfloat16.
 *
 * <p>The tolerance is derived, not chosen. Keeping a weight in 16 bits and widening it exactly
 * before use computes what float32 compute with the rounded weights fl(W) computes. So with A the
 * 16-bit model's output, B the float32 model's output on fl(W), C the float32 model's output on W and
 * G the golden output, the triangle inequality gives |A - G| <= |A - B| + |B - C| + |C - G|:
 * <ul>
 *   <li>|A - B| is the same computation by two routes (widened inside the kernel, or before): it must
 *       be within the case's own tolerance;</li>
 *   <li>|B - C| is the effect of rounding the weights, measured here exactly in float32 for the case's
 *       own weights and inputs (so other cases of the same form get their own bound);</li>
 *   <li>|C - G| is the float32 parity the other tests check, within the case's tolerance.</li>
 * </ul>
 * The test asserts A against G within tolerance + |B - C| (and A against B, which is where a wrong
 * conversion shows), and that the 16-bit model keeps its matrices in 16 bits.
 */
class HalfWeightParityTest {

    /** A network of a golden case and the one output of it compared here. */
    private interface CaseNetwork {
        Module load(NDManager manager, WeightPrecision precision) throws IOException;

        NDArray run(Module network, SafetensorsFile io, NDManager request) throws IOException;
    }

    @ParameterizedTest
    @CsvSource({"unet_tiny, out_sample, f16", "unet_tiny, out_sample, bf16",
                "unet_tiny_v2, out_sample, f16", "unet_tiny_xl, out_sample, f16",
                "vae_tiny, dec_out, f16", "vae_tiny, dec_out, bf16",
                "clip_text_tiny, last_hidden_state, f16", "clip_text_tiny, last_hidden_state, bf16"})
    void matchesGoldenWithinTheBoundOfRoundedWeights(String caseName, String output, String dtype) throws Exception {
        WeightPrecision precision = WeightPrecision.parse(dtype);
        CaseNetwork network = network(caseName);
        double tolerance = tolerance(caseName, output);
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            Module half = network.load(weights, precision);
            Module rounded = network.load(weights, WeightPrecision.FLOAT32);
            roundWeights(rounded, precision);
            Module exact = network.load(weights, WeightPrecision.FLOAT32);
            assertStoredIn(half, precision == WeightPrecision.FLOAT16 ? DataType.FLOAT16 : DataType.BFLOAT16);

            try (NDManager request = weights.newSubManager()) {
                float[] a = network.run(half, io, request).toFloatArray();
                float[] b = network.run(rounded, io, request).toFloatArray();
                float[] c = network.run(exact, io, request).toFloatArray();
                double sameMath = maxAbs(a, b);
                double rounding = maxAbs(b, c);
                assertTrue(sameMath <= tolerance, caseName + " " + dtype + ": 16-bit weights differ from float32 compute on "
                        + "the rounded weights by " + sameMath + " (case tolerance " + tolerance + ")");
                assertTrue(rounding > 0, caseName + ": rounding the weights to " + dtype + " changed nothing: not a 16-bit run");
                double bound = tolerance + rounding;
                double golden = Parity.assertClose(io, output, network.run(half, io, request), bound);
                System.out.printf("%s %s: max abs error vs golden %.3g (bound %.3g = tolerance %.3g + weight rounding %.3g)%n",
                        caseName, dtype, golden, bound, tolerance, rounding);
            }
        }
    }

    /**
     * The golden cases with bfloat16 matrix products ({@link ComputePrecision#BFLOAT16}), weights as
     * the case stores them.
     *
     * <p>A bfloat16 product rounds its operands and its output to bfloat16 and accumulates in float32.
     * With A the network on oneDNN's bf16 kernels, B the same network on their float32 references
     * ({@link FusedOps#linearBf16Reference}, {@link FusedOps#conv2dBf16Reference}: the same roundings
     * around libtorch's float32 products), C the float32 network and G the golden output:
     * <ul>
     *   <li>B - C, the effect of the roundings, is measured for the case's own weights and inputs;</li>
     *   <li>A and B make the same roundings except where their float32 sums, taken in different
     *       orders, fall on two sides of a bfloat16 boundary: one step at a few outputs of each
     *       product ({@code FusedOpsTest} bounds that per product). A network carries those steps as it
     *       carries any rounding, so A - C is a perturbation of the same kind and size as B - C: over
     *       the golden cases the root mean square of A - C was 1.00-1.04 times that of B - C, its
     *       maximum 0.85-1.48 times;</li>
     *   <li>|C - G| is the float32 parity, within the case's tolerance.</li>
     * </ul>
     * So A is asserted against G within tolerance + 1.5 rms(B - C) in root mean square and within
     * tolerance + 3 max|B - C| at every element: room for the spread of a second sample of the same
     * perturbation, far below what a wrong conversion, a product in the wrong type or a lost bias gives.
     */
    @ParameterizedTest
    @CsvSource({"unet_tiny, out_sample", "unet_tiny_xl, out_sample", "vae_tiny, dec_out", "clip_text_tiny, last_hidden_state"})
    void bf16ProductsMatchGoldenWithinTheBoundOfTheirRounding(String caseName, String output) throws Exception {
        CaseNetwork network = network(caseName);
        double tolerance = tolerance(caseName, output);
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile io = Golden.tensors(caseName, "inputs_outputs.safetensors")) {
            Module model = network.load(weights, WeightPrecision.AS_STORED);
            try (NDManager request = weights.newSubManager()) {
                useKernels(model, Kernels.ALL.without(FusedOps.Kernel.BF16_PRODUCTS).withProducts(ComputePrecision.BFLOAT16));
                float[] b = network.run(model, io, request).toFloatArray();
                useKernels(model, Kernels.ALL);
                float[] c = network.run(model, io, request).toFloatArray();
                useKernels(model, Kernels.ALL.withProducts(ComputePrecision.BFLOAT16));
                NDArray kernels = network.run(model, io, request);
                float[] a = kernels.toFloatArray();
                float[] g = Parity.load(io, output, request).toFloatArray();
                double roundingRms = rms(b, c);
                double roundingMax = maxAbs(b, c);
                assertTrue(roundingMax > 0, caseName + ": bfloat16 products changed nothing: not a bfloat16 run");
                double rmsBound = tolerance + 1.5 * roundingRms;
                assertTrue(rms(a, g) <= rmsBound, caseName + ": bf16 products' rms error vs golden " + rms(a, g)
                        + " above " + rmsBound + " (tolerance " + tolerance + " + 1.5 x the rms of the roundings " + roundingRms + ")");
                double maxBound = tolerance + 3 * roundingMax;
                double golden = Parity.assertClose(io, output, kernels, maxBound);
                System.out.printf("%s bf16 products vs golden: rms %.3g (bound %.3g), max %.3g (bound %.3g); roundings rms %.3g max %.3g%n",
                        caseName, rms(a, g), rmsBound, golden, maxBound, roundingRms, roundingMax);
            }
        }
    }

    private static void useKernels(Module network, Kernels kernels) {
        if (network instanceof UNet2DConditionModel unet) {
            unet.useKernels(kernels);
        } else if (network instanceof AutoencoderKL vae) {
            vae.useKernels(kernels);
        } else {
            ((ClipTextModel) network).useKernels(kernels);
        }
    }

    private static double tolerance(String caseName, String output) {
        Map<String, Double> observed = Parity.observedErrors(caseName);
        return observed.containsKey(output) ? Parity.tolerance(observed, output) : Parity.suggestedAtol(caseName);
    }

    private static CaseNetwork network(String caseName) {
        if (caseName.startsWith("unet")) {
            return new CaseNetwork() {
                public Module load(NDManager manager, WeightPrecision precision) throws IOException {
                    UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(Golden.json(caseName, "config.json")));
                    try (SafetensorsFile file = Golden.tensors(caseName, "unet_diffusers.safetensors")) {
                        WeightLoader.load(unet, file, "", manager, precision);
                    }
                    return unet;
                }

                public NDArray run(Module network, SafetensorsFile io, NDManager request) throws IOException {
                    UNet2DConditionModel unet = (UNet2DConditionModel) network;
                    NDArray context = Parity.load(io, "encoder_hidden_states", request);
                    UNetConditioning conditioning = unet.config().hasTextTime()
                            ? new UNetConditioning(context, Parity.load(io, "text_embeds", request), Parity.timesteps(io, "time_ids", request))
                            : UNetConditioning.of(context);
                    float[] timesteps = Parity.timesteps(io, "timestep", request).toType(DataType.FLOAT32, false).toFloatArray();
                    return unet.forward(Parity.load(io, "sample", request), timesteps, conditioning);
                }
            };
        }
        if (caseName.startsWith("vae")) {
            return new CaseNetwork() {
                public Module load(NDManager manager, WeightPrecision precision) throws IOException {
                    AutoencoderKL vae = new AutoencoderKL(VaeConfig.fromJson(Golden.json(caseName, "config.json")));
                    try (SafetensorsFile file = Golden.tensors(caseName, "vae_diffusers.safetensors")) {
                        WeightLoader.load(vae, file, "", manager, precision);
                    }
                    return vae;
                }

                public NDArray run(Module network, SafetensorsFile io, NDManager request) throws IOException {
                    return ((AutoencoderKL) network).decode(Parity.load(io, "dec_in_latent", request));
                }
            };
        }
        return new CaseNetwork() {
            public Module load(NDManager manager, WeightPrecision precision) throws IOException {
                ClipTextModel model = new ClipTextModel(ClipTextConfig.load(Golden.file(caseName, "config.json")));
                try (SafetensorsFile file = Golden.tensors(caseName, "text_encoder_transformers.safetensors")) {
                    model.load(file, "", manager, precision);
                }
                return model;
            }

            public NDArray run(Module network, SafetensorsFile io, NDManager request) throws IOException {
                NDArray ids = request.create(io.longs("input_ids"), new Shape(io.info("input_ids").shape()));
                return ((ClipTextModel) network).lastHiddenState(ids);
            }
        };
    }

    /**
     * Replaces every matrix of {@code network} by its values rounded to {@code precision} by libtorch
     * (an implementation independent of the loader's), kept in float32.
     */
    private static void roundWeights(Module network, WeightPrecision precision) {
        DataType type = precision.storageType(DataType.FLOAT32, new Shape(1, 1));
        for (Parameter parameter : network.namedParameters().values()) {
            if (parameter.shape().dimension() < 2) {
                continue;
            }
            try (NDArray narrow = FusedOps.convert(parameter.value(), type)) {
                parameter.set(FusedOps.convert(narrow, DataType.FLOAT32));
            }
        }
    }

    private static void assertStoredIn(Module network, DataType type) {
        for (Map.Entry<String, Parameter> entry : network.namedParameters().entrySet()) {
            Parameter parameter = entry.getValue();
            assertEquals(parameter.shape().dimension() >= 2 ? type : DataType.FLOAT32, parameter.dataType(), entry.getKey());
        }
    }

    private static double rms(float[] x, float[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            sum += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
        }
        return Math.sqrt(sum / x.length);
    }

    private static double maxAbs(float[] x, float[] y) {
        assertEquals(x.length, y.length);
        double max = 0;
        for (int i = 0; i < x.length; i++) {
            max = Math.max(max, Math.abs((double) x[i] - y[i]));
        }
        return max;
    }
}
