package daguerre.diffusion.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.FusedOps;

/**
 * Other float32 routes for the U-Net's least efficient shapes at 512 px, against the ones the
 * networks take, interleaved in one run, for docs/performance.md ("Where a float32 U-Net step goes"):
 * 3x3 convolutions by oneDNN's direct convolution (first) and as im2col + oneDNN GEMM (second), and
 * attention by libtorch's fused kernel (first) and from matrix products and softmax in chunks of
 * queries (second: over all heads with libtorch's batched products, or head by head with oneDNN's):
 * <pre>
 * java -cp server/target/daguerre.jar:diffusion/target/test-classes daguerre.diffusion.bench.Float32KernelProbe [rounds]
 * </pre>
 * Each figure is the best of 3 timed calls after one untimed call.
 */
public final class Float32KernelProbe {

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        System.out.println("cpu_features " + CpuFeatures.current().reportedText());
        try (NDManager m = DjlRuntime.newManager()) {
            for (int round = 1; round <= rounds; round++) {
                System.out.println("round " + round);
                conv(m, 2, 1280, 1280, 16);
                conv(m, 2, 2560, 1280, 16);
                conv(m, 2, 1920, 1280, 16);
                conv(m, 2, 640, 640, 32);
                conv(m, 2, 1280, 1280, 32);
                conv(m, 2, 320, 320, 64);
                headwiseAttention(m, 2, 8, 4096, 40, 256);
                headwiseAttention(m, 2, 8, 4096, 40, 512);
                attention(m, 2, 8, 4096, 40, 1024);
                attention(m, 2, 8, 4096, 40, 512);
                attention(m, 2, 8, 1024, 80, 1024);
            }
        }
    }

    private static void conv(NDManager m, int batch, int in, int out, int size) {
        try (NDManager call = m.newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, new Shape(batch, in, size, size));
            NDArray w = call.randomUniform(-0.1f, 0.1f, new Shape(out, in, 3, 3));
            NDArray matrix = w.reshape(out, -1);
            NDArray b = call.randomUniform(-1f, 1f, new Shape(out));
            Bf16ProductsProbe.report(String.format("conv3x3 [%d, %d, %d, %d] -> %d direct | im2col", batch, in, size, size, out),
                    2.0 * batch * in * out * 9.0 * size * size,
                    () -> ai.djl.nn.convolutional.Conv2d.conv2d(x, w, b, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1)).singletonOrThrow(),
                    () -> FusedOps.linear(FusedOps.im2col(x, 3, 1, 1).transpose(0, 2, 1), matrix, b));
        }
    }

    private static void attention(NDManager m, int batch, int heads, int tokens, int width, int chunk) {
        try (NDManager call = m.newSubManager()) {
            Shape shape = new Shape(batch * heads, tokens, width);
            NDArray q = call.randomUniform(-1f, 1f, shape);
            NDArray k = call.randomUniform(-1f, 1f, shape);
            NDArray v = call.randomUniform(-1f, 1f, shape);
            NDArray kt = k.transpose(0, 2, 1);
            float scale = (float) (1 / Math.sqrt(width));
            Bf16ProductsProbe.report(String.format("attention [%d, %d, %d] sdpa | chunked %d", batch * heads, tokens, width, chunk),
                    4.0 * batch * heads * tokens * (double) tokens * width,
                    () -> FusedOps.attention(q.reshape(batch, heads, tokens, width), k.reshape(batch, heads, tokens, width),
                            v.reshape(batch, heads, tokens, width)),
                    () -> {
                        NDArray[] parts = new NDArray[tokens / chunk];
                        for (int i = 0; i < parts.length; i++) {
                            try (NDManager s = call.newSubManager()) {
                                NDArray qc = q.get(":, " + (i * chunk) + ":" + ((i + 1) * chunk) + ", :");
                                qc.attach(s);
                                NDArray p = qc.mul(scale).matMul(kt).softmax(-1);
                                NDArray o = p.matMul(v);
                                o.attach(call);
                                parts[i] = o;
                            }
                        }
                        return NDArrays.concat(new NDList(parts), 1);
                    });
        }
    }

    /** Per head, per chunk of queries: scores by oneDNN's product (linear against k), softmax, then oneDNN's product against v^T. */
    private static void headwiseAttention(NDManager m, int batch, int heads, int tokens, int width, int chunk) {
        try (NDManager call = m.newSubManager()) {
            Shape shape = new Shape(batch, heads, tokens, width);
            NDArray q = call.randomUniform(-1f, 1f, shape);
            NDArray k = call.randomUniform(-1f, 1f, shape);
            NDArray v = call.randomUniform(-1f, 1f, shape);
            NDArray vt = v.transpose(0, 1, 3, 2).duplicate();                  // [B, heads, d, T]
            float scale = (float) (1 / Math.sqrt(width));
            Bf16ProductsProbe.report(String.format("attention [%d, %d, %d, %d] sdpa | headwise oneDNN %d", batch, heads, tokens, width, chunk),
                    4.0 * batch * heads * tokens * (double) tokens * width,
                    () -> FusedOps.attention(q, k, v),
                    () -> {
                        NDArray out = call.create(new Shape(batch, heads, tokens, width));
                        for (int b = 0; b < batch; b++) {
                            for (int h = 0; h < heads; h++) {
                                try (NDManager s = call.newSubManager()) {
                                    NDArray kh = k.get(b).get(h);
                                    NDArray vth = vt.get(b).get(h);
                                    kh.attach(s);
                                    vth.attach(s);
                                    for (int r = 0; r < tokens; r += chunk) {
                                        NDArray qc = q.get(b).get(h).get(r + ":" + (r + chunk));
                                        qc.attach(s);
                                        NDArray scores = FusedOps.linear(qc.mul(scale), kh, null);   // [chunk, T]
                                        NDArray o = FusedOps.linear(scores.softmax(-1), vth, null);   // [chunk, d]
                                        out.set(new ai.djl.ndarray.index.NDIndex("{}, {}, {}:{}", b, h, r, r + chunk), o);
                                    }
                                }
                            }
                        }
                        return out;
                    });
        }
    }
}
