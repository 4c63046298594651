package daguerre.diffusion.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.vae.VaeTiling;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A smoke run of the benchmark on the tiny random model: every figure is there, finite and positive (times are never asserted). */
class BenchmarkTest {

    @Test
    void tinyRandomModelGivesEveryFigure() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY, 7)) {
            Benchmark.Figures figures = Benchmark.run(model, new Benchmark.Options(List.of(32, 64), 2, 1, 0));
            Map<String, Double> named = figures.named();
            for (String name : List.of("peak_gflops", "gemm_peak_gflops", "gemm_to_fma_peak", "text_encode_s", "text_encode_ratio", "model_rss_gib",
                    "unet_step_s.32", "unet_step_ratio.32", "vae_decode_s.64", "vae_decode_ratio.64",
                    "peak_rss_gib.64", "unet_only_rss_gib.64")) {
                assertTrue(named.containsKey(name), "missing figure " + name + " in " + named.keySet());
            }
            named.forEach((name, value) -> assertTrue(Double.isFinite(value) && value > 0, name + " = " + value));
            assertEquals(FlopCounter.unet(ModelPreset.TINY.unet(), 2, 32, 32, 77) / 1e12, named.get("unet_step_tflop.64"));
            assertEquals(2, figures.sizes().size());
        }
    }

    /** A decode at a size larger than one tile: tiled with tiling on, untiled with auto (below its threshold), named so. */
    @Test
    void largeDecodesReportTimeAndMemoryUnderTheirTilingsName() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY, 7)) {
            int size = (VaeTiling.DEFAULT_TILE + 16) * model.vaeScaleFactor();
            Benchmark.Options options = new Benchmark.Options(List.of(size), 1, 0, 0);
            Map<String, Double> tiled = Benchmark.vaeDecode(model, size, VaeTiling.ON, options).named();
            assertEquals(List.of("vae_decode_tiled_s." + size, "vae_decode_tiled_peak_rss_gib." + size,
                    "vae_decode_tiled_activations_gib." + size), List.copyOf(tiled.keySet()));
            Map<String, Double> untiled = Benchmark.vaeDecode(model, size, VaeTiling.AUTO, options).named();
            assertTrue(untiled.containsKey("vae_decode_untiled_s." + size), untiled.toString());
            for (Map<String, Double> figures : List.of(tiled, untiled)) {
                figures.forEach((name, value) -> assertTrue(Double.isFinite(value) && (value > 0 || name.contains("activations")),
                        name + " = " + value));
            }
        }
    }

    /** An SDXL-shaped model: the U-Net step runs with the pooled embedding and time ids, the text encode with both encoders. */
    @Test
    void tinyXlRandomModelGivesEveryFigure() throws Exception {
        ModelPreset xl = ModelPreset.TINY_XL;
        try (StableDiffusionModel model = RandomModel.create(xl, 7)) {
            Benchmark.Figures figures = Benchmark.run(model, new Benchmark.Options(List.of(64), 1, 0, 0));
            Map<String, Double> named = figures.named();
            named.forEach((name, value) -> assertTrue(Double.isFinite(value) && value > 0, name + " = " + value));
            assertEquals(FlopCounter.unet(xl.unet(), 2, 32, 32, 77), figures.sizes().get(0).unetStepFlops());
            assertEquals(FlopCounter.sdxlTextEncoders(xl.textEncoder(), xl.textEncoder2(), 1, 77, 2), figures.textEncodeFlops());
            // the RSS estimate of the U-Net alone takes off both text encoders and the VAE
            double others = (model.textEncoder().parameterCount() + model.secondTextEncoder().orElseThrow().encoder().parameterCount()
                    + model.vae().parameterCount()) * 4 / (1024.0 * 1024 * 1024);
            assertEquals(figures.sizes().get(0).unetPeakRssGib() - others, figures.sizes().get(0).unetOnlyRssGib(), 1e-9);
        }
    }

    @Test
    void ablationTimesEveryKernelOffInTurnAndRestoresTheModelsKernels() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY, 7)) {
            Map<String, double[]> seconds = Benchmark.ablation(model, 32, new Benchmark.Options(List.of(32), 1, 0, 0));
            assertEquals(FusedOps.Kernel.values().length + 2, seconds.size(), seconds.keySet().toString());
            assertTrue(seconds.containsKey("all") && seconds.containsKey("none") && seconds.containsKey("without_linear"));
            seconds.values().forEach(pair -> assertTrue(pair[0] > 0 && pair[1] > 0));
            assertEquals(Kernels.ALL, model.unet().kernels());
            assertEquals(Kernels.ALL, model.vae().kernels());
            assertEquals(Kernels.ALL, model.textEncoder().kernels());
        }
    }

    /** bf16 products in the text encoder and U-Net, float32 in the VAE: as the model had them before each call, after it. */
    @Test
    void ablationAndTheComputeComparisonKeepEachNetworksProducts() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY, 7)) {
            assertEquals(ComputePrecision.BFLOAT16, model.useComputePrecision(ComputePrecision.BFLOAT16));
            Benchmark.Options options = new Benchmark.Options(List.of(32), 1, 0, 0);
            Benchmark.ablation(model, 32, options);
            assertProducts(model);
            Benchmark.ComputeComparison comparison = Benchmark.computeComparison(model, 32, 2, 1, options);
            assertProducts(model);
            assertEquals(Set.of("float32", "bfloat16"), comparison.unetSeconds().keySet());
            assertTrue(comparison.maxAbsLevels() >= 0 && comparison.meanAbsLevels() <= comparison.maxAbsLevels(), comparison.toString());
        }
    }

    private static void assertProducts(StableDiffusionModel model) {
        assertEquals(Kernels.ALL.withProducts(ComputePrecision.BFLOAT16), model.unet().kernels());
        assertEquals(Kernels.ALL.withProducts(ComputePrecision.BFLOAT16), model.textEncoder().kernels());
        assertEquals(Kernels.ALL, model.vae().kernels());
    }

    @Test
    void wholeImagesAndASoakReportTimeAndMemory() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY, 7)) {
            assertTrue(Benchmark.imageSeconds(model, 2, new Benchmark.Options(List.of(32), 1, 0, 0)) > 0);
            Benchmark.Soak soak = Benchmark.soak(model, 4, 2, 0);
            assertEquals(4, soak.generations());
            assertEquals(2, soak.baselineGeneration());
            assertTrue(soak.baselineRssGib() > 0 && soak.endRssGib() > 0, soak.toString());
            // the highest sampled RSS is reported as a real figure (0 if never sampled, NaN if a sample failed)
            assertTrue(Double.isFinite(soak.maxRssGib()) && soak.maxRssGib() > 0, soak.toString());
            assertTrue(soak.baselineModelArrays() > 0, soak.toString());
            assertEquals(soak.baselineModelArrays(), soak.endModelArrays(), "generations left arrays in the model's manager");
        }
    }
}
