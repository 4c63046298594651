package daguerre.diffusion.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.unet.UNetConditioning;
import daguerre.diffusion.vae.VaeTiling;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Where SD 1.5's memory goes at one image size, for docs/performance.md: random SD 1.5 weights in
 * f16, the U-Net steps' peak RSS step by step, then untiled VAE decodes alternating between every
 * kernel, the decoder without its banded ResNet blocks, and without those, its in-place norm and its
 * banded upsampling, with the activations (peak less the RSS before) and the seconds of each:
 * <pre>
 * java -cp server/target/daguerre.jar:diffusion/target/test-classes daguerre.diffusion.bench.MemoryProbe [size] [rounds] [unet steps]
 * </pre>
 * Memory figures do not depend on the machine's CPU share; the seconds do, so compare them within a round.
 */
public final class MemoryProbe {

    public static void main(String[] args) throws Exception {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int unetSteps = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int latent = size / 8;
        SplittableRandom random = new SplittableRandom(1);
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.named("sd15"), 0, WeightPrecision.FLOAT16)) {
            System.out.println("compute_dtype " + model.useComputePrecision(ComputePrecision.AUTO).dtypeName());
            System.gc();
            DjlRuntime.releaseFreedNativeMemory();
            System.out.printf("model_rss_gib %.3f%n", MemoryStatus.settledRssGib());
            float[] sample = Benchmark.normal(random, 2L * 4 * latent * latent);
            float[] context = Benchmark.normal(random, 2L * 77 * 768);
            for (int step = 0; step < unetSteps; step++) {
                double before = MemoryStatus.rssGib();
                MemoryStatus.resetPeak();
                long start = System.nanoTime();
                try (NDManager call = model.manager().newSubManager()) {
                    NDArray x = call.create(sample, new Shape(2, 4, latent, latent));
                    NDArray c = call.create(context, new Shape(2, 77, 768));
                    model.unet().forward(x, new float[] {500, 500}, UNetConditioning.of(c)).toFloatArray();
                }
                System.out.printf("unet_step %d: rss before %.3f GiB, peak %.3f GiB, %.2f s%n", step, before,
                        MemoryStatus.peakRssGib(), (System.nanoTime() - start) / 1e9);
            }
            Map<String, Kernels> decoders = new LinkedHashMap<>();
            decoders.put("all", Kernels.ALL);
            decoders.put("without_banded_resnet", Kernels.ALL.without(FusedOps.Kernel.BANDED_RESNET));
            decoders.put("without_banded_resnet_in_place_norm_and_banded_upsample", Kernels.ALL.without(FusedOps.Kernel.BANDED_RESNET)
                    .without(FusedOps.Kernel.IN_PLACE_NORM).without(FusedOps.Kernel.BANDED_UPSAMPLE));
            Kernels used = model.vae().kernels();
            float[] latents = Benchmark.normal(random, 4L * latent * latent);
            try {
                for (int round = 1; round <= rounds; round++) {
                    for (Map.Entry<String, Kernels> decoder : decoders.entrySet()) {
                        model.vae().useKernels(decoder.getValue().withProducts(used.products()));
                        System.gc();
                        DjlRuntime.releaseFreedNativeMemory();
                        double before = MemoryStatus.settledRssGib();
                        MemoryStatus.resetPeak();
                        long start = System.nanoTime();
                        try (NDManager call = model.manager().newSubManager()) {
                            model.vae().decode(call.create(latents, new Shape(1, 4, latent, latent)), VaeTiling.OFF).toFloatArray();
                        }
                        double peak = MemoryStatus.peakRssGib();
                        System.out.printf("round %d decode %s: %.2f s, rss before %.3f GiB, peak %.3f GiB, activations %.3f GiB%n",
                                round, decoder.getKey(), (System.nanoTime() - start) / 1e9, before, peak, peak - before);
                    }
                }
            } finally {
                model.vae().useKernels(used);
            }
        }
    }
}
