package daguerre.diffusion.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.unet.UNetConditioning;
import java.util.SplittableRandom;

/**
 * One fused kernel's worth on random SD 1.5 weights: U-Net steps alternating between every kernel
 * and every kernel but the named one, in one process, with each round's ratio (time without / with):
 * <pre>
 * java -cp server/target/daguerre.jar:diffusion/target/test-classes daguerre.diffusion.bench.KernelStepProbe size f32|f16 f32|bf16|auto KERNEL [rounds]
 * </pre>
 * (one untimed step of each first). Wall-clock time on a shared machine: read the rounds together
 * (docs/performance.md, "Where a float32 U-Net step goes").
 */
public final class KernelStepProbe {

    public static void main(String[] args) throws Exception {
        int size = Integer.parseInt(args[0]);
        WeightPrecision weights = WeightPrecision.parse(args[1]);
        ComputePrecision compute = ComputePrecision.parse(args[2]);
        FusedOps.Kernel kernel = FusedOps.Kernel.valueOf(args[3]);
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        int latent = size / 8;
        SplittableRandom random = new SplittableRandom(1);
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.named("sd15"), 0, weights)) {
            System.out.println("compute_dtype " + model.useComputePrecision(compute).dtypeName());
            Kernels with = model.unet().kernels();
            Kernels without = with.without(kernel);
            float[] sample = Benchmark.normal(random, 2L * 4 * latent * latent);
            float[] context = Benchmark.normal(random, 2L * 77 * 768);
            try {
                for (int round = 0; round <= rounds; round++) {
                    double withSeconds = step(model, with, sample, context, latent);
                    double withoutSeconds = step(model, without, sample, context, latent);
                    if (round > 0) {
                        System.out.printf("round %d: with %s %.3f s, without %.3f s, speed-up %.3f%n",
                                round, kernel, withSeconds, withoutSeconds, withoutSeconds / withSeconds);
                    }
                }
            } finally {
                model.unet().useKernels(with);
            }
        }
    }

    /** Seconds of one U-Net step (batch 2, 77-token context, timestep 500) with {@code kernels}, left in use. */
    static double step(StableDiffusionModel model, Kernels kernels, float[] sample, float[] context, int latent) {
        model.unet().useKernels(kernels);
        long start = System.nanoTime();
        try (NDManager call = model.manager().newSubManager()) {
            NDArray x = call.create(sample, new Shape(2, 4, latent, latent));
            NDArray c = call.create(context, new Shape(2, 77, 768));
            model.unet().forward(x, new float[] {500, 500}, UNetConditioning.of(c)).toFloatArray();
        }
        return (System.nanoTime() - start) / 1e9;
    }
}
