package daguerre.weights.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes safetensors files: 8-byte little-endian header length, the JSON header padded with spaces
 * to a multiple of 8 bytes, then every tensor's bytes contiguously in the order given.
 *
 * <p>Floating-point tensors are given as float32 values and stored as {@link DType#F32},
 * {@link DType#F16} or {@link DType#BF16} (rounded to nearest even); {@link DType#I64} tensors are
 * given as longs. The file is written to a temporary sibling and renamed into place, so a crash
 * never leaves a half-written file under the target name.
 */
public final class SafetensorsWriter {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK_ELEMENTS = 1 << 16;

    private SafetensorsWriter() {}

    /**
     * One tensor to write. Exactly one of {@code floats} (for F32/F16/BF16) and {@code longs} (for I64)
     * is non-null, and its length equals the product of {@code shape}.
     */
    public record Tensor(String name, DType dtype, long[] shape, float[] floats, long[] longs) {

        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            long elements = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
                }
                elements = Math.multiplyExact(elements, d);
            }
            if (dtype == DType.U8) {
                throw new IllegalArgumentException("tensor '" + name + "': writing U8 is not supported");
            }
            if (dtype.isFloating()) {
                if (floats == null || longs != null) {
                    throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " takes float values");
                }
                if (floats.length != elements) {
                    throw new IllegalArgumentException("tensor '" + name + "': " + floats.length
                            + " values for shape " + Arrays.toString(shape));
                }
            } else {
                if (longs == null || floats != null) {
                    throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " takes long values");
                }
                if (longs.length != elements) {
                    throw new IllegalArgumentException("tensor '" + name + "': " + longs.length
                            + " values for shape " + Arrays.toString(shape));
                }
            }
        }

        /** A floating-point tensor stored as {@code dtype} (F32, F64, F16 or BF16). */
        public static Tensor of(String name, DType dtype, long[] shape, float[] values) {
            return new Tensor(name, dtype, shape, values, null);
        }

        /** A float32 tensor. */
        public static Tensor f32(String name, long[] shape, float[] values) {
            return new Tensor(name, DType.F32, shape, values, null);
        }

        /** An I64 tensor. */
        public static Tensor i64(String name, long[] shape, long[] values) {
            return new Tensor(name, DType.I64, shape, null, values);
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        long elementCount() {
            return dtype.isFloating() ? floats.length : longs.length;
        }

        long byteLength() {
            return elementCount() * dtype.byteSize();
        }
    }

    /** Writes {@code tensors} without metadata. */
    public static void write(Path file, List<Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (in this order) and the {@code __metadata__} string map (omitted when
     * empty) to {@code file}, atomically replacing any existing file.
     */
    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        Path absolute = file.toAbsolutePath();
        Path directory = absolute.getParent();
        Path temporary = Files.createTempFile(directory, "." + absolute.getFileName() + ".", ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
                writeFully(channel, length);
                writeFully(channel, ByteBuffer.wrap(header));
                for (Tensor tensor : tensors) {
                    writeData(channel, tensor);
                }
                channel.force(true);
            }
            try {
                Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** The JSON header bytes, space-padded so that the data area starts at a multiple of 8. */
    static byte[] header(List<Tensor> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach((k, v) -> meta.put(Objects.requireNonNull(k, "metadata key"),
                    Objects.requireNonNull(v, "metadata value of '" + k + "'")));
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Tensor tensor : tensors) {
            if (tensor.name().equals("__metadata__")) {
                throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
            }
            if (!seen.add(tensor.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + tensor.name() + "'");
            }
            ObjectNode entry = root.putObject(tensor.name());
            entry.put("dtype", tensor.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : tensor.shape) {
                shape.add(d);
            }
            long end = Math.addExact(offset, tensor.byteLength());
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(FileChannel channel, Tensor tensor) throws IOException {
        int elementBytes = tensor.dtype().byteSize();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK_ELEMENTS * elementBytes).order(ByteOrder.LITTLE_ENDIAN);
        long count = tensor.elementCount();
        for (int start = 0; start < count; start += CHUNK_ELEMENTS) {
            int end = (int) Math.min(count, (long) start + CHUNK_ELEMENTS);
            buffer.clear();
            for (int i = start; i < end; i++) {
                switch (tensor.dtype()) {
                    case F32 -> buffer.putFloat(tensor.floats()[i]);
                    case F64 -> buffer.putDouble(tensor.floats()[i]);
                    case F16 -> buffer.putShort(HalfFloats.floatToF16(tensor.floats()[i]));
                    case BF16 -> buffer.putShort(HalfFloats.floatToBf16(tensor.floats()[i]));
                    case I64 -> buffer.putLong(tensor.longs()[i]);
                }
            }
            buffer.flip();
            writeFully(channel, buffer);
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
