package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import java.util.List;
import java.util.Random;

/** Times candidate architectures of the default model (a measuring tool, not a test). */
public final class ArchitectureTiming {

    public static void main(String[] args) {
        String what = args[0];
        try (NDManager m = DjlRuntime.newManager()) {
            if (what.equals("unet")) {
                List<Integer> ch = java.util.Arrays.stream(args[1].split(",")).map(Integer::parseInt).toList();
                int layers = Integer.parseInt(args[2]);
                int ctx = Integer.parseInt(args[3]);
                int trainBatch = Integer.parseInt(args[4]);
                List<String> down = new java.util.ArrayList<>();
                List<String> up = new java.util.ArrayList<>();
                int attnLevels = Integer.parseInt(args[5]);
                for (int i = 0; i < ch.size(); i++) {
                    down.add(attnLevels < 0 ? (i >= -attnLevels ? UNetConfig.CROSS_ATTN_DOWN : UNetConfig.DOWN) : i < attnLevels ? UNetConfig.CROSS_ATTN_DOWN : UNetConfig.DOWN);
                }
                for (int i = ch.size() - 1; i >= 0; i--) {
                    up.add(attnLevels < 0 ? (i >= -attnLevels ? UNetConfig.CROSS_ATTN_UP : UNetConfig.UP) : i < attnLevels ? UNetConfig.CROSS_ATTN_UP : UNetConfig.UP);
                }
                List<Integer> heads = ch.stream().map(c -> c / 64).toList();
                UNetConfig cfg = new UNetConfig(16, 4, 4, ch, layers, down, up, ctx, heads, 1, false, false, 32, 1e-5f, true, 0f);
                UNet2DConditionModel unet = new UNet2DConditionModel(cfg);
                Initializers.initialize(unet, 1, m);
                System.out.printf("unet %s layers %d attnLevels %d params %.2fM%n", ch, layers, attnLevels, unet.parameterCount() / 1e6);
                Random r = new Random(1);
                time("infer b2", 10, () -> {
                    try (NDManager s = m.newSubManager()) {
                        NDArray x = s.randomNormal(new Shape(2, 4, 16, 16));
                        NDArray c = s.randomNormal(new Shape(2, 77, ctx));
                        unet.forward(x, new float[] {500f}, c).toFloatArray();
                    }
                });
                trainStep(m, unet, trainBatch, ctx);
            } else {
                List<Integer> ch = java.util.Arrays.stream(args[1].split(",")).map(Integer::parseInt).toList();
                int layers = Integer.parseInt(args[2]);
                int trainBatch = Integer.parseInt(args[3]);
                int groups = Integer.parseInt(args[4]);
                AutoencoderKL vae = new AutoencoderKL(new VaeConfig(3, 3, ch, layers, 4, groups, 64, 1f));
                Initializers.initialize(vae, 1, m);
                System.out.printf("vae %s layers %d params %.2fM%n", ch, layers, vae.parameterCount() / 1e6);
                time("decode b1", 5, () -> {
                    try (NDManager s = m.newSubManager()) {
                        vae.decode(s.randomNormal(new Shape(1, 4, 16, 16))).toFloatArray();
                    }
                });
                for (Parameter p : vae.namedParameters().values()) {
                            p.value().setRequiresGradient(true);
                }
                time("train b" + trainBatch, 3, () -> {
                    try (NDManager s = m.newSubManager()) {
                        NDArray x = s.create(new float[trainBatch * 3 * 64 * 64], new Shape(trainBatch, 3, 64, 64));
                        try (GradientCollector gc = DjlRuntime.engine().newGradientCollector()) {
                            var d = vae.encode(x);
                            NDArray y = vae.decode(d.mean());
                            gc.backward(y.sub(x).abs().mean());
                        }
                    }
                });
            }
        }
    }

    static void trainStep(NDManager m, Module model, int batch, int ctx) {
        for (Parameter p : model.namedParameters().values()) {
            p.value().setRequiresGradient(true);
        }
        UNet2DConditionModel unet = (UNet2DConditionModel) model;
        time("train b" + batch, 3, () -> {
            try (NDManager s = m.newSubManager()) {
                NDArray x = s.randomNormal(new Shape(batch, 4, 16, 16));
                NDArray c = s.randomNormal(new Shape(batch, 77, ctx));
                float[] t = new float[batch];
                java.util.Arrays.fill(t, 500f);
                try (GradientCollector gc = DjlRuntime.engine().newGradientCollector()) {
                    NDArray y = unet.forward(x, t, c);
                    gc.backward(y.sub(x).square().mean());
                }
            }
        });
    }

    static void time(String label, int repeats, Runnable body) {
        body.run();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            body.run();
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("  %s: %.1f ms%n", label, best / 1e6);
    }
}
