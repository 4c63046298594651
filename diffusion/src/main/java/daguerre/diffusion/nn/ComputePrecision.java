package daguerre.diffusion.nn;

import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * The type the networks' matrix products (linear layers and convolutions) run in
 * ({@code --compute-dtype}). Everything else (norms, attention, element-wise ops, the scheduler)
 * is float32 either way, and so are the products' accumulators: a bfloat16 product rounds its two
 * operands to bfloat16 (8 significant bits), multiplies and sums in float32 inside oneDNN, and rounds
 * its output to bfloat16 before it is widened back to float32.
 *
 * <p>bfloat16 products are worth it only where the CPU multiplies bfloat16 in hardware
 * ({@code avx512_bf16} dot products or AMX tiles): there oneDNN's bf16 GEMMs and convolutions ran
 * 1.4-2.2 times as fast as its float32 ones on SD 1.5's shapes (docs/performance.md); elsewhere
 * oneDNN emulates them in float32 and they are slower than float32 itself.
 */
public enum ComputePrecision {
    /** bfloat16 products where the CPU has native bf16 units and the weights are 16-bit, else float32 (the default). */
    AUTO("auto"),
    FLOAT32("f32"),
    BFLOAT16("bf16");

    private final String optionName;

    ComputePrecision(String optionName) {
        this.optionName = optionName;
    }

    /** The name on the command line: {@code auto}, {@code f32} or {@code bf16}. */
    public String optionName() {
        return optionName;
    }

    /** The name {@code bench} and the logs print: {@code float32} or {@code bfloat16}. */
    public String dtypeName() {
        return switch (this) {
            case AUTO -> throw new IllegalStateException("auto names no type until it is resolved");
            case FLOAT32 -> "float32";
            case BFLOAT16 -> "bfloat16";
        };
    }

    /** Parses an option value ({@code auto}, {@code f32}, {@code bf16}; case-insensitive). */
    public static ComputePrecision parse(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (ComputePrecision precision : values()) {
            if (precision.optionName.equals(wanted)) {
                return precision;
            }
        }
        throw new IllegalArgumentException("unknown compute dtype '" + name + "' (known: auto, f32, bf16)");
    }

    /**
     * What this choice means for a model whose matrices are kept in {@code weights}, on a CPU with or
     * without native bf16 units: {@link #AUTO} becomes {@link #BFLOAT16} only with both 16-bit weights
     * (the user accepted 16-bit rounding of the weights; float32 weights ask for float32 results) and
     * native units; an explicit choice stays as it is.
     */
    public ComputePrecision resolve(DataType weights, boolean nativeBf16) {
        if (this != AUTO) {
            return this;
        }
        boolean sixteenBit = weights == DataType.FLOAT16 || weights == DataType.BFLOAT16;
        return sixteenBit && nativeBf16 ? BFLOAT16 : FLOAT32;
    }
}
