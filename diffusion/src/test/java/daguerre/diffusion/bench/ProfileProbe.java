package daguerre.diffusion.bench;

import ai.djl.pytorch.jni.JniUtils;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.pipeline.RandomModel;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import java.util.SplittableRandom;

/**
 * libtorch's profiler over U-Net steps of random SD 1.5 weights, written as a Chrome trace
 * (summed per operator and shape by docs/probes/profile_summary.py):
 * <pre>
 * java -cp server/target/daguerre.jar:diffusion/target/test-classes daguerre.diffusion.bench.ProfileProbe size f32|f16 f32|bf16|auto trace.json|- [steps]
 * </pre>
 */
public final class ProfileProbe {

    public static void main(String[] args) throws Exception {
        int size = Integer.parseInt(args[0]);
        WeightPrecision weights = WeightPrecision.parse(args[1]);
        ComputePrecision compute = ComputePrecision.parse(args[2]);
        String trace = args[3];
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        int latent = size / 8;
        SplittableRandom random = new SplittableRandom(1);
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.named("sd15"), 0, weights)) {
            System.out.println("compute_dtype " + model.useComputePrecision(compute).dtypeName());
            float[] sample = Benchmark.normal(random, 2L * 4 * latent * latent);
            float[] context = Benchmark.normal(random, 2L * 77 * 768);
            for (int step = -1; step < steps; step++) {
                if (step == 0 && !trace.equals("-")) {
                    JniUtils.startProfile(false, true, false);
                }
                double seconds = KernelStepProbe.step(model, model.unet().kernels(), sample, context, latent);
                System.out.printf("unet_step %d: %.3f s%n", step, seconds);
            }
            if (!trace.equals("-")) {
                JniUtils.stopProfile(trace);
            }
        }
    }
}
