package daguerre.weights.safetensors;

import java.util.Arrays;

/**
 * One tensor's header entry: its name, element type, shape and byte range relative to the start
 * of the data area (after the 8-byte length and the JSON header).
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    /** Number of elements: the product of the shape (1 for a scalar). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Shape as int[] (every dimension must fit an int; true for any real model). */
    public int[] intShape() {
        return Arrays.stream(shape).mapToInt(Math::toIntExact).toArray();
    }

    public long byteLength() {
        return end - begin;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
