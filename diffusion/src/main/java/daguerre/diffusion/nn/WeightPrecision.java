package daguerre.diffusion.nn;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Locale;

/**
 * The data type weights are kept in, in memory ({@code --weight-dtype}). Only matrices and
 * convolution kernels (parameters of two or more dimensions: more than 99.9% of every model's
 * weights) are kept in 16 bits; norm scales and biases stay float32. Compute is float32 either way:
 * a 16-bit weight is widened, exactly, right before the one operation that reads it
 * ({@link FusedOps#linear}, {@link FusedOps#conv2d}, {@link FusedOps#embedding}), so a 16-bit model
 * computes what a float32 one with weights rounded to 16 bits computes.
 */
public enum WeightPrecision {
    /** The checkpoint's own type: F16 stays F16, BF16 stays BF16, anything else becomes float32 (the default). */
    AS_STORED("stored"),
    FLOAT32("f32"),
    FLOAT16("f16"),
    BFLOAT16("bf16");

    /** Largest finite float16 value: a float32 weight beyond it cannot be stored in float16. */
    public static final float FLOAT16_MAX = 65504f;

    private final String optionName;

    WeightPrecision(String optionName) {
        this.optionName = optionName;
    }

    /** The name on the command line: {@code stored}, {@code f32}, {@code f16} or {@code bf16}. */
    public String optionName() {
        return optionName;
    }

    /** Parses an option value ({@code f32}, {@code f16}, {@code bf16}, {@code stored}; case-insensitive). */
    public static WeightPrecision parse(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (WeightPrecision precision : values()) {
            if (precision.optionName.equals(wanted)) {
                return precision;
            }
        }
        throw new IllegalArgumentException("unknown weight dtype '" + name + "' (known: f32, f16, bf16, stored)");
    }

    /**
     * The type a parameter of {@code shape} is kept in when the checkpoint stores it as
     * {@code stored}: float32 for parameters of fewer than two dimensions, else this precision's type.
     */
    public DataType storageType(DataType stored, Shape shape) {
        if (shape.dimension() < 2) {
            return DataType.FLOAT32;
        }
        return switch (this) {
            case AS_STORED -> stored == DataType.FLOAT16 || stored == DataType.BFLOAT16 ? stored : DataType.FLOAT32;
            case FLOAT32 -> DataType.FLOAT32;
            case FLOAT16 -> DataType.FLOAT16;
            case BFLOAT16 -> DataType.BFLOAT16;
        };
    }
}
