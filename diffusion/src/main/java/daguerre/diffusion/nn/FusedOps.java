package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
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
 * group_norm), reached through a tiny TorchScript module that this class writes itself.
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
              def causal_attention(self: __torch__.FusedOps,
                q: Tensor,
                k: Tensor,
                v: Tensor) -> Tensor:
                return torch.scaled_dot_product_attention(q, k, v, None, 0., True)
              def group_norm(self: __torch__.FusedOps,
                x: Tensor,
                groups: int,
                weight: Tensor,
                bias: Tensor,
                eps: float) -> Tensor:
                return torch.group_norm(x, groups, weight, bias, eps)
            """;

    /** Pickle protocol 2: GLOBAL __torch__.FusedOps, NEWOBJ with (), BUILD with {"training": False}. */
    private static final byte[] DATA_PKL = concat(
            new byte[] {(byte) 0x80, 2},
            "c__torch__\nFusedOps\nq\u0000)\u0081}(X\u0008\u0000\u0000\u0000trainingq\u0001\u0089ub.".getBytes(StandardCharsets.ISO_8859_1));

    private static final byte[] CONSTANTS_PKL = {(byte) 0x80, 2, ')', '.'};

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

    /** As {@link #attention} with a causal mask: query i sees keys 0..i (CLIP's text transformer). */
    public static NDArray causalAttention(NDArray q, NDArray k, NDArray v) {
        return call("causal_attention", q, tensor(q), tensor(k), tensor(v));
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
