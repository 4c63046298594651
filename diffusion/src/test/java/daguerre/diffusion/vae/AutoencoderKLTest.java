package daguerre.diffusion.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Parity;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.weights.Golden;
import daguerre.weights.layout.OriginalLayouts;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import daguerre.weights.safetensors.SafetensorsFile;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Parity of the VAE's decode and encode, and their recorded intermediates, with diffusers. */
class AutoencoderKLTest {

    private static final String CASE = "vae_tiny";

    @ParameterizedTest
    @ValueSource(strings = {"diffusers", "original"})
    void decodeAndEncodeMatchDiffusers(String layout) throws Exception {
        Map<String, Double> observed = Parity.observedErrors(CASE);
        VaeConfig config = VaeConfig.fromJson(Golden.json(CASE, "config.json"));
        try (NDManager weights = NDManager.newBaseManager();
             SafetensorsFile weightFile = Golden.tensors(CASE, "vae_" + layout + ".safetensors");
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors");
             SafetensorsFile recorded = Golden.tensors(CASE, "intermediates.safetensors")) {
            AutoencoderKL vae = new AutoencoderKL(config);
            // the original LDM layout is read through the weights module's rename view
            WeightLoader.load(vae, layout.equals("original") ? OriginalLayouts.vae(weightFile) : weightFile, "", weights);

            try (NDManager request = weights.newSubManager()) {
                Map<String, NDArray> intermediates = new TreeMap<>();
                Capture capture = Capture.into(intermediates, request);
                Map<String, Double> errors = new TreeMap<>();

                NDArray decoded = vae.decode(Parity.load(io, "dec_in_latent", request), capture.child("dec"));
                errors.put("dec_out", Parity.assertClose(io, "dec_out", decoded, Parity.tolerance(observed, "dec_out")));
                assertEquals(request, decoded.getManager(), "output must live in the input's manager");
                // the fast path (stages closed as it goes, fused norm + SiLU head) against the same golden output
                NDArray fast = vae.decode(Parity.load(io, "dec_in_latent", request));
                errors.put("dec_out_uncaptured", Parity.assertClose(io, "dec_out", fast, Parity.tolerance(observed, "dec_out")));
                // and with the last level's ResNet blocks run in bands of rows, as on large maps
                vae.decoder().bandLastLevelFrom(0);
                NDArray banded = vae.decode(Parity.load(io, "dec_in_latent", request));
                vae.decoder().bandLastLevelFrom(VaeDecoder.UpBlock.BANDED_LEVEL_BYTES);
                errors.put("dec_out_banded", Parity.assertClose(io, "dec_out", banded, Parity.tolerance(observed, "dec_out")));

                LatentDistribution latent = vae.encode(Parity.load(io, "enc_in_image", request), capture.child("enc"));
                errors.put("enc_mean", Parity.assertClose(io, "enc_mean", latent.mean(), Parity.tolerance(observed, "enc_mean")));
                errors.put("enc_logvar", Parity.assertClose(io, "enc_logvar", latent.logvar(), Parity.tolerance(observed, "enc_logvar")));
                errors.put("enc_std", Parity.assertClose(io, "enc_std", latent.std(), Parity.tolerance(observed, "enc_std")));
                NDArray sample = latent.sample(Parity.load(io, "enc_sample_noise", request));
                errors.put("enc_sample", Parity.assertClose(io, "enc_sample", sample, Parity.tolerance(observed, "enc_sample")));

                for (String name : recorded.names()) {
                    assertTrue(intermediates.containsKey(name), "intermediate not recorded: " + name);
                    // golden intermediates hold batch element 0 only
                    NDArray first = intermediates.get(name).get(0).expandDims(0);
                    errors.put(name, Parity.assertClose(recorded, name, first, Parity.tolerance(observed, name)));
                }
                System.out.println(CASE + " max abs errors: " + errors);
            }
        }
    }

    /**
     * At the case's own sizes and at a quarter of them (the decoder's first levels then work on maps
     * of 4x4 and the encoder's last on 8x8 and less: {@code Conv2d}'s im2col + GEMM path), with
     * every fused kernel and with none.
     */
    @ParameterizedTest
    @CsvSource({"1, true", "1, false", "4, true", "4, false"})
    void decodeAndEncodeLeaveOnlyTheirOutputsBehind(int shrink, boolean fused) throws Exception {
        VaeConfig config = VaeConfig.fromJson(Golden.json(CASE, "config.json"));
        try (NDManager weights = NDManager.newBaseManager();
             NDManager request = NDManager.newBaseManager();
             SafetensorsFile weightFile = Golden.tensors(CASE, "vae_diffusers.safetensors");
             SafetensorsFile io = Golden.tensors(CASE, "inputs_outputs.safetensors")) {
            AutoencoderKL vae = new AutoencoderKL(config);
            vae.useKernels(Kernels.all(fused));
            WeightLoader.load(vae, weightFile, "", weights);
            int weightArrays = weights.getManagedArrays().size();
            NDArray latent = shrunk(Parity.load(io, "dec_in_latent", request), shrink);
            NDArray image = shrunk(Parity.load(io, "enc_in_image", request), shrink);
            int inputArrays = request.getManagedArrays().size();

            vae.decode(latent);
            vae.encode(image);

            assertEquals(weightArrays, weights.getManagedArrays().size(), "arrays leaked into the weights' manager");
            // decode's image, encode's mean and log-variance
            assertEquals(inputArrays + 3, request.getManagedArrays().size(), "temporaries left in the input's manager");
        }
    }

    /** The top-left 1/factor of [B, C, H, W] in each spatial axis, as a new array; {@code full} is closed. */
    private static NDArray shrunk(NDArray full, int factor) {
        if (factor == 1) {
            return full;
        }
        long height = full.getShape().get(2) / factor;
        long width = full.getShape().get(3) / factor;
        NDArray view = full.get(":, :, :" + height + ", :" + width);
        NDArray part = view.duplicate();
        view.close();
        full.close();
        return part;
    }
}
