package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import daguerre.diffusion.DjlRuntime;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * libtorch operators that DJL 0.35.1 does not expose (fused scaled-dot-product attention,
 * group_norm, one-pass SiLU, nearest upsampling, im2col, the channels-last layout, oneDNN's
 * linear), reached through a tiny TorchScript module that this class writes itself.
 *
 * <p>A TorchScript archive is a zip of four entries: {@code code/__torch__.py} (the module's
 * source in TorchScript's serialised dialect), {@code data.pkl} (the pickled module object: a
 * {@code __torch__.FusedOps} with its one attribute {@code training}), {@code constants.pkl} (an
 * empty tuple) and {@code version}. The archive is built in memory and loaded once; every method
 * call runs a single libtorch op on the caller's tensors, so results land in the caller's manager.
 */
public final class FusedOps {

    private static final String SOURCE = """
            class FusedOps(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              def forward(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
                return torch.scaled_dot_product_attention(q, k, v)
              def group_norm(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
                return torch.group_norm(x, groups, weight, bias, eps)
              def group_norm_silu(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
                return torch.silu_(torch.group_norm(x, groups, weight, bias, eps))
              def group_norm_affine(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                per_group: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
                variance, mean = torch.var_mean(torch.unflatten(x, 1, [groups, per_group]), [2, 3, 4], correction=0, keepdim=False)
                rstd = torch.repeat_interleave(torch.rsqrt(torch.add(variance, eps)), per_group, 1)
                scale = torch.mul(rstd, weight)
                shift = torch.sub(bias, torch.mul(torch.repeat_interleave(mean, per_group, 1), scale))
                return torch.stack([scale, shift])
              def group_norm_silu_(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                per_group: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
                affine = self.group_norm_affine(x, groups, per_group, weight, bias, eps)
                shape = [torch.size(x, 0), torch.size(x, 1), 1, 1]
                y = torch.add_(torch.mul_(x, torch.view(torch.select(affine, 0, 0), shape)), torch.view(torch.select(affine, 0, 1), shape))
                return torch.silu_(y)
              def affine_silu(self: __torch__.FusedOps,
                x: Tensor,
                affine: Tensor,
                item: int) -> Tensor:
                shape = [1, torch.size(x, 1), 1, 1]
                scale = torch.view(torch.select(torch.select(affine, 0, 0), 0, item), shape)
                shift = torch.view(torch.select(torch.select(affine, 0, 1), 0, item), shape)
                return torch.silu_(torch.addcmul(shift, x, scale))
              def write_rows_(self: __torch__.FusedOps,
                target: Tensor,
                item: int,
                row: int,
                value: Tensor) -> Tensor:
                rows = torch.slice(torch.slice(target, 0, item, item + 1), 2, row, row + torch.size(value, 2))
                return torch.copy_(rows, value)
              def write_sum_rows_(self: __torch__.FusedOps,
                target: Tensor,
                item: int,
                row: int,
                a: Tensor,
                b: Tensor) -> Tensor:
                rows = torch.slice(torch.slice(target, 0, item, item + 1), 2, row, row + torch.size(a, 2))
                return torch.add(a, b, out=rows)
              def channels_last_prefix(self: __torch__.FusedOps,
                x: Tensor,
                channels: int) -> Tensor:
                height = torch.size(x, 2)
                width = torch.size(x, 3)
                return torch.as_strided(x, [torch.size(x, 0), channels, height, width], [height * width * channels, 1, width * channels, channels])
              def linear(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor) -> Tensor:
                return ops.mkldnn._linear_pointwise(x, torch.to(weight, 6), bias, "none", annotate(List[Optional[number]], []), None)
              def linear_no_bias(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor) -> Tensor:
                return ops.mkldnn._linear_pointwise(x, torch.to(weight, 6), None, "none", annotate(List[Optional[number]], []), None)
              def conv2d(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor,
                stride: int,
                padding: int) -> Tensor:
                return torch.conv2d(x, torch.to(weight, 6), bias, [stride, stride], [padding, padding])
              def linear_bf16(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor) -> Tensor:
                return torch.to(ops.mkldnn._linear_pointwise(torch.to(x, 15), torch.to(weight, 15), torch.to(bias, 15), "none", annotate(List[Optional[number]], []), None), 6)
              def linear_bf16_no_bias(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor) -> Tensor:
                return torch.to(ops.mkldnn._linear_pointwise(torch.to(x, 15), torch.to(weight, 15), None, "none", annotate(List[Optional[number]], []), None), 6)
              def conv2d_bf16(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor,
                stride: int,
                padding: int) -> Tensor:
                return torch.to(torch.conv2d(torch.to(x, 15), torch.to(weight, 15), torch.to(bias, 15), [stride, stride], [padding, padding]), 6)
              def attention_bf16(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
                return torch.to(torch.scaled_dot_product_attention(torch.to(q, 15), torch.to(k, 15), torch.to(v, 15)), 6)
              def embedding(self: __torch__.FusedOps,
                weight: Tensor,
                indices: Tensor) -> Tensor:
                return torch.to(torch.embedding(weight, indices), 6)
              def linear_bf16_reference(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor) -> Tensor:
                y = torch.linear(torch.to(torch.to(x, 15), 6), torch.to(torch.to(weight, 15), 6), torch.to(torch.to(bias, 15), 6))
                return torch.to(torch.to(y, 15), 6)
              def linear_bf16_reference_no_bias(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor) -> Tensor:
                y = torch.linear(torch.to(torch.to(x, 15), 6), torch.to(torch.to(weight, 15), 6))
                return torch.to(torch.to(y, 15), 6)
              def conv2d_bf16_reference(self: __torch__.FusedOps,
                x: Tensor,
                weight: Tensor,
                bias: Tensor,
                stride: int,
                padding: int) -> Tensor:
                y = torch.conv2d(torch.to(torch.to(x, 15), 6), torch.to(torch.to(weight, 15), 6), torch.to(torch.to(bias, 15), 6), [stride, stride], [padding, padding])
                return torch.to(torch.to(y, 15), 6)
              def round_bf16(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
                return torch.to(torch.to(x, 15), 6)
              def convert(self: __torch__.FusedOps,
                x: Tensor,
                dtype: int) -> Tensor:
                return torch.to(x, dtype)
              def im2col(self: __torch__.FusedOps,
                x: Tensor,
                kernel: int,
                padding: int,
                stride: int) -> Tensor:
                return torch.im2col(x, [kernel, kernel], [1, 1], [padding, padding], [stride, stride])
              def channels_last(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
                return torch.contiguous(x, memory_format=2)
              def channels_first(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
                return torch.contiguous(x)
              def silu(self: __torch__.FusedOps,
                x: Tensor) -> Tensor:
                return torch.silu(x)
              def upsample_nearest(self: __torch__.FusedOps,
                x: Tensor,
                height: int,
                width: int) -> Tensor:
                return torch.upsample_nearest2d(x, [height, width])
            """;

    /** Pickle protocol 2: GLOBAL __torch__.FusedOps, NEWOBJ with (), BUILD with {"training": False}. */
    private static final byte[] DATA_PKL = concat(
            new byte[] {(byte) 0x80, 2},
            "c__torch__\nFusedOps\nq\u0000)\u0081}(X\u0008\u0000\u0000\u0000trainingq\u0001\u0089ub.".getBytes(StandardCharsets.ISO_8859_1));

    private static final byte[] CONSTANTS_PKL = {(byte) 0x80, 2, ')', '.'};

    /**
     * The inference kernels this class provides; a network's {@link Kernels} says which of them its
     * forward pass uses (so that {@code bench --ablation} can time a network with and without each
     * in one run). Every call site keeps its plain DJL path as the reference the tests compare with.
     */
    public enum Kernel {
        /** {@link #attention}, in {@link Attention#forward}. */
        ATTENTION,
        /** {@link #groupNorm}, in {@link GroupNorm#forward}. */
        GROUP_NORM,
        /** {@link #silu} and the SiLU of {@link #groupNormSilu}. */
        SILU,
        /** {@link #upsampleNearest}, in {@link Upsample2D#nearest}. */
        UPSAMPLE,
        /** {@link #linear} (oneDNN), in {@link Linear#forward}. */
        LINEAR,
        /** {@link #im2col} + {@link #linear} for 3x3 convolutions on small maps, in {@link Conv2d#forward}. */
        SMALL_CONV_GEMM,
        /** {@link #channelsLast} activations through the VAE decoder (in the U-Net they measured no faster). */
        CHANNELS_LAST,
        /**
         * {@link #groupNormSiluInPlace}, in {@link GroupNorm#forwardSiluOverwriting}: the VAE decoder's
         * ResNet blocks normalise a tensor they are done with in its own memory.
         */
        IN_PLACE_NORM,
        /**
         * {@link Upsample2D#forwardBanded}, in the VAE decoder's upsamplers whose doubled map is over
         * {@link Upsample2D#BAND_BYTES}: the doubled map is computed and convolved a band of rows at a time.
         */
        BANDED_UPSAMPLE,
        /**
         * {@link ResnetBlock2D#forwardBanded}, in the VAE decoder's last level once its input takes
         * {@code VaeDecoder.UpBlock.BANDED_LEVEL_BYTES}: the normalised maps and the convolutions'
         * outputs exist a band of rows at a time, and each block's output overwrites its input.
         */
        BANDED_RESNET,
        /**
         * oneDNN's bfloat16 products ({@link #linearBf16}, {@link #conv2dBf16}) in {@link Linear} and
         * {@link Conv2d} while {@link Kernels#currentProducts()} is bfloat16; without it, their float32
         * references on bfloat16-rounded operands. Nothing changes while products are float32.
         */
        BF16_PRODUCTS
    }

    private static PtSymbolBlock module;
    private static PtNDManager moduleManager;

    private FusedOps() {}

    /**
     * Softmax attention, softmax(q k^T / sqrt(d)) v, as one fused libtorch kernel (memory-efficient:
     * the [T, S] score matrix is never materialised whole).
     *
     * @param q [B, heads, T, d]
     * @param k [B, heads, S, d]
     * @param v [B, heads, S, d]
     * @return [B, heads, T, d]
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v) {
        return call("forward", q, tensor(q), tensor(k), tensor(v));
    }

    /**
     * Group normalisation as torch.nn.functional.group_norm.
     *
     * @param x [B, C, ...]
     * @param weight [C]
     * @param bias [C]
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        return call("group_norm", x, tensor(x), IValue.from(groups), tensor(weight), tensor(bias), IValue.from((double) eps));
    }

    /** {@link #groupNorm} followed by SiLU, computed in place on the normalised tensor: one output, no temporary. */
    public static NDArray groupNormSilu(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        return call("group_norm_silu", x, tensor(x), IValue.from(groups), tensor(weight), tensor(bias), IValue.from((double) eps));
    }

    /**
     * {@link #groupNormSilu} computed in place: x's values are overwritten with the result, which is
     * returned as a second handle on x's memory (no new activation). From the per-group mean and
     * biased variance over [C/G, H, W]: y = x * (gamma * rstd) + (beta - mean * gamma * rstd), then
     * SiLU. For a caller that no longer needs x.
     *
     * @param x [B, C, H, W], float32, any memory layout
     */
    public static NDArray groupNormSiluInPlace(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        int perGroup = Math.toIntExact(x.getShape().get(1) / groups);
        return call("group_norm_silu_", x, tensor(x), IValue.from(groups), IValue.from(perGroup), tensor(weight), tensor(bias),
                IValue.from((double) eps));
    }

    /**
     * The per-channel affine map that group normalisation applies to x, from x's per-group mean
     * and biased variance over [C/G, H, W]: GroupNorm(x)[b, c] = x[b, c] * scale[b, c] + shift[b, c]
     * with scale = gamma rstd and shift = beta - mean gamma rstd.
     *
     * @param x [B, C, H, W], float32, any memory layout
     * @return [2, B, C]: scale, then shift
     */
    public static NDArray groupNormAffine(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        int perGroup = Math.toIntExact(x.getShape().get(1) / groups);
        return call("group_norm_affine", x, tensor(x), IValue.from(groups), IValue.from(perGroup), tensor(weight), tensor(bias),
                IValue.from((double) eps));
    }

    /**
     * SiLU(rows * scale + shift) with the scale and shift of batch item {@code item} of a
     * {@link #groupNormAffine} result: the normalised, activated values of a band of rows of that
     * item, as a new tensor in the rows' layout.
     *
     * @param rows [1, C, h, W]
     * @param affine [2, B, C]
     */
    public static NDArray affineSilu(NDArray rows, NDArray affine, long item) {
        return call("affine_silu", rows, tensor(rows), tensor(affine), IValue.from(item));
    }

    /**
     * A channels-last [B, channels, H, W] view on the start of a channels-last x's memory ([B, H, W,
     * C] in memory, channels <= C): writes to it overwrite x. A block that turns C channels into
     * fewer can write its output there, row band after row band, once it has read the bands'
     * inputs: output rows [r0, r1) of item b lie in the first (b H W + r1 W) channels floats, below
     * every row of x still to be read.
     *
     * @param x [B, C, H, W], channels-last in memory
     */
    public static NDArray channelsLastPrefix(NDArray x, long channels) {
        return call("channels_last_prefix", x, tensor(x), IValue.from(channels));
    }

    /**
     * Copies value into rows [row, row + h) of batch item {@code item} of target, in place (here,
     * since DJL may not write into arrays that these methods made).
     *
     * @param target [B, C, H, W]
     * @param value [1, C, h, W]
     */
    public static void writeRows(NDArray target, long item, long row, NDArray value) {
        call("write_rows_", target, tensor(target), IValue.from(item), IValue.from(row), tensor(value)).close();
    }

    /** {@link #writeRows} of a + b, summed straight into the target's rows (a and b [1, C, h, W]). */
    public static void writeSumRows(NDArray target, long item, long row, NDArray a, NDArray b) {
        call("write_sum_rows_", target, tensor(target), IValue.from(item), IValue.from(row), tensor(a), tensor(b)).close();
    }

    /**
     * A new, uninitialised float32 [B, C, H, W] array laid out channels-last ([B, H, W, C] in
     * memory), for a band-by-band computation to fill.
     */
    public static NDArray emptyChannelsLast(NDManager manager, long batch, long channels, long height, long width) {
        try (NDArray positionsFirst = manager.create(new Shape(batch, height, width, channels), DataType.FLOAT32)) {
            return positionsFirst.transpose(0, 3, 1, 2);     // the view keeps the memory
        }
    }

    /**
     * y = x W^T + b by oneDNN's matrix multiply ({@code mkldnn::_linear_pointwise}) rather than the
     * BLAS behind {@code aten::linear}: the bundled libtorch's MKL sgemm runs at about 40% of this
     * CPU's float32 peak (an AMD EPYC, where MKL does not use its fastest kernels), oneDNN's at
     * 60-90% (measured in {@code docs/performance.md}).
     *
     * <p>A 16-bit weight is widened to float32 inside the call (a temporary of one layer's size,
     * freed before the call returns); a float32 weight is used as is.
     *
     * @param x [..., in], float32
     * @param weight [out, in], float32, float16 or bfloat16
     * @param bias [out], or null
     * @return [..., out], float32
     */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? call("linear_no_bias", x, tensor(x), tensor(weight))
                : call("linear", x, tensor(x), tensor(weight), tensor(bias));
    }

    /**
     * 2-D convolution as torch's {@code conv2d} with a square stride and zero padding, the weight
     * widened to float32 inside the call as in {@link #linear}: the path for 16-bit kernels.
     *
     * @param x [B, in, H, W], float32
     * @param weight [out, in, k, k]
     * @param bias [out], float32
     * @return [B, out, H', W']
     */
    public static NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return call("conv2d", x, tensor(x), tensor(weight), tensor(bias), IValue.from(stride), IValue.from(padding));
    }

    /**
     * {@link #linear} with the product in bfloat16 ({@link ComputePrecision#BFLOAT16}): x, the weight
     * and the bias are rounded to bfloat16, oneDNN multiplies and accumulates in float32 and rounds
     * the output to bfloat16, which comes back widened to float32.
     *
     * @param x [..., in], float32
     * @param weight [out, in], any floating type
     * @param bias [out], or null
     * @return [..., out], float32 (bfloat16 values)
     */
    public static NDArray linearBf16(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? call("linear_bf16_no_bias", x, tensor(x), tensor(weight))
                : call("linear_bf16", x, tensor(x), tensor(weight), tensor(bias));
    }

    /** {@link #conv2d} with the product in bfloat16, rounded as {@link #linearBf16} is. */
    public static NDArray conv2dBf16(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return call("conv2d_bf16", x, tensor(x), tensor(weight), tensor(bias), IValue.from(stride), IValue.from(padding));
    }

    /**
     * {@link #attention} computed in bfloat16. The networks do not use it: on a Zen 4 CPU with
     * avx512_bf16 libtorch's bf16 attention ran 0.84-0.94 times as fast as its float32 one
     * ({@code Bf16ProductsProbe}); it is here so that the probe can keep measuring it.
     */
    public static NDArray attentionBf16(NDArray q, NDArray k, NDArray v) {
        return call("attention_bf16", q, tensor(q), tensor(k), tensor(v));
    }

    /**
     * The float32 reference of {@link #linearBf16}: x, the weight and the bias rounded to bfloat16
     * (nearest, ties to even) and widened back, multiplied by libtorch's float32 {@code linear}
     * (its BLAS, not oneDNN), the output rounded to bfloat16.
     */
    public static NDArray linearBf16Reference(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? call("linear_bf16_reference_no_bias", x, tensor(x), tensor(weight))
                : call("linear_bf16_reference", x, tensor(x), tensor(weight), tensor(bias));
    }

    /** The float32 reference of {@link #conv2dBf16}, rounded as {@link #linearBf16Reference} is. */
    public static NDArray conv2dBf16Reference(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return call("conv2d_bf16_reference", x, tensor(x), tensor(weight), tensor(bias), IValue.from(stride), IValue.from(padding));
    }

    /** x rounded to the nearest bfloat16 (ties to even) and widened back to float32. */
    public static NDArray roundToBf16(NDArray x) {
        return call("round_bf16", x, tensor(x));
    }

    /**
     * Rows of an embedding table, widened to float32: int64 indices [...] -> [..., dim], in the
     * indices' manager. Only the gathered rows are widened, never the whole table.
     */
    public static NDArray embedding(NDArray weight, NDArray indices) {
        return call("embedding", indices, tensor(weight), tensor(indices));
    }

    /**
     * {@code x} converted to {@code type} (float32, float16 or bfloat16), in x's manager: libtorch's
     * {@code to}, rounding to nearest even. (DJL 0.35.1's own {@code toType(BFLOAT16)} aborts the JVM.)
     */
    public static NDArray convert(NDArray x, DataType type) {
        return call("convert", x, tensor(x), IValue.from(scalarType(type)));
    }

    /** libtorch's ScalarType code of a floating type (c10/core/ScalarType.h). */
    static int scalarType(DataType type) {
        return switch (type) {
            case FLOAT16 -> 5;
            case FLOAT32 -> 6;
            case BFLOAT16 -> 15;
            default -> throw new IllegalArgumentException("no conversion to " + type + " (float32, float16, bfloat16 only)");
        };
    }

    /**
     * The sliding windows of a square kernel as columns (torch's {@code im2col} / {@code unfold}):
     * [B, C, H, W] -> [B, C k k, H' W'], row c k k + i k + j holding input channel c at kernel
     * offset (i, j), zero-padded.
     */
    public static NDArray im2col(NDArray x, int kernel, int padding, int stride) {
        return call("im2col", x, tensor(x), IValue.from(kernel), IValue.from(padding), IValue.from(stride));
    }

    /**
     * The same [B, C, H, W] values stored channels-last (as [B, H, W, C] in memory, torch's
     * {@code channels_last} format). Shapes and indexing are unchanged; oneDNN convolves such
     * tensors without reordering them, and the results of convolutions, norms, element-wise ops
     * and upsampling on them stay channels-last.
     */
    public static NDArray channelsLast(NDArray x) {
        return call("channels_last", x, tensor(x));
    }

    /** The same values in the default (row-major, channels-first) layout. */
    public static NDArray channelsFirst(NDArray x) {
        return call("channels_first", x, tensor(x));
    }

    /** SiLU, x * sigmoid(x), in one pass (the plain form takes two and a temporary). */
    public static NDArray silu(NDArray x) {
        return call("silu", x, tensor(x));
    }

    /**
     * Nearest-neighbour resize of [B, C, H, W] to [B, C, height, width], as torch's
     * {@code interpolate(mode="nearest")} with an explicit size: output row o reads input row
     * min(floor(o * H / height), H - 1).
     */
    public static NDArray upsampleNearest(NDArray x, long height, long width) {
        return call("upsample_nearest", x, tensor(x), IValue.from(height), IValue.from(width));
    }

    private static IValue tensor(NDArray array) {
        return IValue.from((PtNDArray) array);
    }

    private static NDArray call(String method, NDArray like, IValue... inputs) {
        PtSymbolBlock block = module();
        try (IValue result = IValueUtils.runMethod(block, method, inputs)) {
            return result.toTensor((PtNDManager) like.getManager());
        } finally {
            for (IValue input : inputs) {
                input.close();
            }
        }
    }

    private static synchronized PtSymbolBlock module() {
        if (module == null) {
            moduleManager = (PtNDManager) DjlRuntime.newManager();
            try {
                module = JniUtils.loadModule(moduleManager, new ByteArrayInputStream(archive()), false, false);
            } catch (IOException e) {
                throw new UncheckedIOException("could not load the fused-ops TorchScript module", e);
            }
        }
        return module;
    }

    /** The TorchScript archive, uncompressed ("stored") entries under {@code archive/}. */
    static byte[] archive() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            store(zip, "archive/data.pkl", DATA_PKL);
            store(zip, "archive/code/__torch__.py", SOURCE.getBytes(StandardCharsets.UTF_8));
            store(zip, "archive/constants.pkl", CONSTANTS_PKL);
            store(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static void store(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
