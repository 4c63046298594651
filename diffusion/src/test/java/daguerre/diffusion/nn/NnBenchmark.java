package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * Prints wall-clock timings of the heavy building blocks at Stable Diffusion 1.x level-0 sizes
 * (320 channels, 8 heads, 768-wide context of 77 tokens) on random weights, or with first argument
 * {@code unet} of a whole SD 1.x-sized U-Net (deterministic made-up weights). Not a test: run with
 * {@code java -cp <test classpath> daguerre.diffusion.nn.NnBenchmark [unet] [latentSize] [batch] [runs]}.
 */
public final class NnBenchmark {

    private NnBenchmark() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("unet")) {
            unet(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int channels = 320;
        int heads = 8;
        int contextDim = 768;
        int time = 4 * channels;
        Random random = new Random(1);
        try (NDManager weights = NDManager.newBaseManager(); NDManager inputs = NDManager.newBaseManager()) {
            NDArray image = gaussian(inputs, random, new Shape(batch, channels, size, size));
            NDArray tokens = gaussian(inputs, random, new Shape(batch, (long) size * size, channels));
            NDArray context = gaussian(inputs, random, new Shape(batch, 77, contextDim));
            NDArray temb = gaussian(inputs, random, new Shape(batch, time));
            System.out.printf("latent %dx%d, batch %d, %d runs, ms%n", size, size, batch, runs);

            GroupNorm groupNorm = init(new GroupNorm(32, channels, 1e-5f), weights, random);
            time("GroupNorm [B,320,h,w]", runs, image, groupNorm::forward);

            NDArray normWeight = gaussian(weights, random, new Shape(channels));
            NDArray normBias = gaussian(weights, random, new Shape(channels));
            time("  for comparison: affine as mul + add", runs, image, x -> groupNormMulAddAffine(x, normWeight, normBias));

            NDArray q = gaussian(inputs, random, new Shape(batch, (long) size * size, channels));
            NDArray k = gaussian(inputs, random, new Shape(batch, (long) size * size, channels));
            time("attend (8 heads), default score budget", runs, tokens, x -> Attention.attend(x, q, k, heads));
            for (int log2 : new int[] {19, 23, 25}) {
                long budget = 1L << log2;
                time("  for comparison: chunks of 2^" + log2 + " scores", runs, tokens, x -> Attention.attend(x, q, k, heads, budget));
            }
            time("  for comparison: one chunk", runs, tokens, x -> Attention.attend(x, q, k, heads, Long.MAX_VALUE));

            Attention self = init(new Attention(channels, channels, heads, false), weights, random);
            time("Attention self [B,h*w,320]", runs, tokens, self::forward);

            Attention cross = init(new Attention(channels, contextDim, heads, false), weights, random);
            time("Attention cross [B,h*w,320] x [B,77,768]", runs, tokens, x -> cross.forward(x, context));

            ResnetBlock2D resnet = init(new ResnetBlock2D(channels, channels, time, 32, 1e-5f), weights, random);
            time("ResnetBlock2D 320->320", runs, image, x -> resnet.forward(x, temb));

            Transformer2DModel transformer = init(new Transformer2DModel(channels, heads, contextDim, 32, false, 1), weights, random);
            time("Transformer2DModel 320", runs, image, x -> transformer.forward(x, context, null));
        }
    }

    private static void unet(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        UNetConfig sd15 = new UNetConfig(64, 4, 4, List.of(320, 640, 1280, 1280), 2,
                List.of(UNetConfig.CROSS_ATTN_DOWN, UNetConfig.CROSS_ATTN_DOWN, UNetConfig.CROSS_ATTN_DOWN, UNetConfig.DOWN),
                List.of(UNetConfig.UP, UNetConfig.CROSS_ATTN_UP, UNetConfig.CROSS_ATTN_UP, UNetConfig.CROSS_ATTN_UP),
                768, List.of(8, 8, 8, 8), 1, false, false, 32, 1e-5f, true, 0);
        Random random = new Random(1);
        try (NDManager weights = NDManager.newBaseManager(); NDManager inputs = NDManager.newBaseManager()) {
            UNet2DConditionModel unet = new UNet2DConditionModel(sd15);
            for (Parameter p : unet.namedParameters().values()) {
                // deterministic values of scale 0.02, made on the engine to keep start-up short
                p.set(weights.arange(0f, p.shape().size(), 1f).mul(0.618f).sin().mul(0.02f).reshape(p.shape()));
            }
            NDArray sample = gaussian(inputs, random, new Shape(batch, 4, size, size));
            NDArray context = gaussian(inputs, random, new Shape(batch, 77, 768));
            NDArray timesteps = inputs.create(new float[] {500f});
            System.out.printf("SD 1.x-sized U-Net (%d parameters), latent %dx%d, batch %d, %d runs, ms%n",
                    unet.parameterCount(), size, size, batch, runs);
            time("UNet2DConditionModel.forward", runs, sample, x -> unet.forward(x, timesteps, context));
        }
    }

    private static void time(String what, int runs, NDArray input, Function<NDArray, NDArray> block) {
        double[] ms = new double[runs];
        for (int i = -2; i < runs; i++) {
            try (NDManager step = input.getManager().newSubManager()) {
                input.tempAttach(step);
                long start = System.nanoTime();
                block.apply(input).toFloatArray();
                if (i >= 0) {
                    ms[i] = (System.nanoTime() - start) / 1e6;
                }
            }
        }
        Arrays.sort(ms);
        System.out.printf("%-45s min %9.2f  median %9.2f%n", what, ms[0], ms[runs / 2]);
    }

    private static <M extends Module> M init(M module, NDManager manager, Random random) {
        for (Parameter p : module.namedParameters().values()) {
            NDArray value = gaussian(manager, random, p.shape()).mul(0.05f);
            p.set(value);
        }
        return module;
    }

    private static NDArray gaussian(NDManager manager, Random random, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return manager.create(values, shape);
    }

    private static NDArray groupNormMulAddAffine(NDArray x, NDArray weight, NDArray bias) {
        Shape shape = x.getShape();
        NDManager m = x.getManager();
        NDArray grouped = x.reshape(shape.get(0), 32, -1);
        Shape normalized = new Shape(grouped.getShape().get(2));
        NDArray normed = ai.djl.nn.norm.LayerNorm.layerNorm(grouped, normalized, m.ones(normalized), m.zeros(normalized), 1e-5f)
                .singletonOrThrow().reshape(shape);
        NDArray scale = weight.reshape(-1, 1, 1);
        NDArray shift = bias.reshape(-1, 1, 1);
        scale.attach(m);
        shift.attach(m);
        return normed.mul(scale).add(shift);
    }
}
