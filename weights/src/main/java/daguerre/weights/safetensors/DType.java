package daguerre.weights.safetensors;

/** Element types a safetensors file may hold that Daguerre reads. */
public enum DType {
    F32(4),
    F64(8),
    F16(2),
    BF16(2),
    I64(8),
    /** Unsigned bytes (an 8-bit image, say): readable as numbers, never a weight. */
    U8(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether this is a floating-point type that {@link SafetensorsFile#floats} can widen to F32. */
    public boolean isFloating() {
        return this != I64 && this != U8;
    }
}
