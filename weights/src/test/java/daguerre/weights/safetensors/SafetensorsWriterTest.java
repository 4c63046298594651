package daguerre.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writer to reader round trips, half-precision rounding, and long offsets past 2 GiB. */
class SafetensorsWriterTest {

    @TempDir
    Path dir;

    /** float32 inputs and the binary16 bits IEEE round-to-nearest-even gives for each. */
    private static final float[] F16_INPUTS = {
        1f, -2f, 0.1f, 1f / 3, 65504f, 65519.99f, 65520f, 0x1p-14f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 1023 * 0x1p-24f,
        0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-10f, 1e10f
    };
    private static final int[] F16_BITS = {
        0x3c00, 0xc000, 0x2e66, 0x3555, 0x7bff, 0x7bff, 0x7c00, 0x0400, 0x0001, 0x0000, 0x0001, 0x03ff,
        0x0000, 0x8000, 0x7c00, 0xfc00, 0x0000, 0x7c00
    };

    /** float32 inputs and the bfloat16 bits round-to-nearest-even gives for each. */
    private static final float[] BF16_INPUTS = {
        1f, 1f / 3, 3f, -0f, 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, Float.MAX_VALUE, 1e-40f, Float.POSITIVE_INFINITY, -1.5f
    };
    private static final int[] BF16_BITS = {
        0x3f80, 0x3eab, 0x4040, 0x8000, 0x3f80, 0x3f82, 0x7f80, 0x0001, 0x7f80, 0xbfc0
    };

    @Test
    void halfFloatConversionsRoundToNearestEven() {
        for (int i = 0; i < F16_INPUTS.length; i++) {
            assertEquals(F16_BITS[i], HalfFloats.floatToF16(F16_INPUTS[i]) & 0xffff, "f16 of " + F16_INPUTS[i]);
        }
        for (int i = 0; i < BF16_INPUTS.length; i++) {
            assertEquals(BF16_BITS[i], HalfFloats.floatToBf16(BF16_INPUTS[i]) & 0xffff, "bf16 of " + BF16_INPUTS[i]);
        }
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN))));
        assertEquals(0x1p-24f, HalfFloats.f16ToFloat((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, HalfFloats.f16ToFloat((short) 0x03ff));
        assertEquals(-0f, HalfFloats.f16ToFloat((short) 0x8000));
        assertEquals(65504f, HalfFloats.f16ToFloat((short) 0x7bff));
        // every finite binary16 value survives float32 and back
        for (int bits = 0; bits < 0x10000; bits++) {
            if ((bits & 0x7c00) != 0x7c00) {
                assertEquals(bits, HalfFloats.floatToF16(HalfFloats.f16ToFloat((short) bits)) & 0xffff);
            }
        }
    }

    @Test
    void roundTripsEveryDtypeWithMetadata() throws IOException {
        float[] f32 = {0f, -1.5f, 3.25e-30f, Float.MAX_VALUE, Float.NaN, Float.NEGATIVE_INFINITY};
        long[] i64 = {0, -1, Long.MAX_VALUE, Long.MIN_VALUE, 49407};
        Path file = dir.resolve("all.safetensors");
        Map<String, String> metadata = Map.of("format", "pt", "note", "ünïcode ✓");
        SafetensorsWriter.write(file, List.of(
                SafetensorsWriter.Tensor.f32("f32", new long[] {2, 3}, f32),
                SafetensorsWriter.Tensor.of("f16", DType.F16, new long[] {F16_INPUTS.length}, F16_INPUTS),
                SafetensorsWriter.Tensor.of("bf16", DType.BF16, new long[] {BF16_INPUTS.length}, BF16_INPUTS),
                SafetensorsWriter.Tensor.i64("i64", new long[] {5}, i64),
                SafetensorsWriter.Tensor.f32("scalar", new long[] {}, new float[] {7f}),
                SafetensorsWriter.Tensor.f32("empty", new long[] {0, 4}, new float[0])), metadata);

        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8, "data area starts on an 8-byte boundary");
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("f32", "f16", "bf16", "i64", "scalar", "empty"), List.copyOf(f.names()));
            assertEquals(metadata, f.metadata());
            assertArrayEquals(f32, f.floats("f32"));
            assertArrayEquals(new long[] {2, 3}, f.shape("f32"));
            assertArrayEquals(i64, f.longs("i64"));
            assertArrayEquals(new long[] {}, f.shape("scalar"));
            assertArrayEquals(new float[] {7f}, f.floats("scalar"));
            assertEquals(0, f.floats("empty").length);
            ByteBuffer f16 = f.bytes("f16");
            for (int i = 0; i < F16_BITS.length; i++) {
                assertEquals(F16_BITS[i], f16.getShort(2 * i) & 0xffff, "stored f16 of " + F16_INPUTS[i]);
                assertEquals(HalfFloats.f16ToFloat((short) F16_BITS[i]), f.floats("f16")[i]);
            }
            ByteBuffer bf16 = f.bytes("bf16");
            for (int i = 0; i < BF16_BITS.length; i++) {
                assertEquals(BF16_BITS[i], bf16.getShort(2 * i) & 0xffff, "stored bf16 of " + BF16_INPUTS[i]);
            }
            // contiguous, in the order given
            long end = 0;
            for (TensorInfo info : f.tensors().values()) {
                assertEquals(end, info.begin(), info.name());
                end = info.end();
            }
            assertEquals(bytes.length - 8 - headerLength, end);
            InvalidTensorFileException wrongType = assertThrows(InvalidTensorFileException.class, () -> f.floats("i64"));
            assertTrue(wrongType.getMessage().contains("'i64'"));
        }
    }

    /** F64 (e.g. fractional timesteps from numpy) reads as doubles exactly and as floats rounded; I64 and F32 as doubles too. */
    @Test
    void f64TensorsAndDoublesOfEveryNumericType() throws IOException {
        double[] f64 = {0.1, 999.5, -1e300};
        String json = "{\"t\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}}";
        byte[] header = (json + " ".repeat((8 - json.length() % 8) % 8)).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buffer = ByteBuffer.allocate(8 + header.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(header.length).put(header);
        for (double v : f64) {
            buffer.putDouble(v);
        }
        Path file = dir.resolve("f64.safetensors");
        Files.write(file, buffer.array());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(DType.F64, f.info("t").dtype());
            assertArrayEquals(f64, f.doubles("t"));
            assertArrayEquals(new float[] {0.1f, 999.5f, Float.NEGATIVE_INFINITY}, f.floats("t"));
            assertThrows(InvalidTensorFileException.class, () -> f.longs("t"));
        }

        Path written = dir.resolve("mixed.safetensors");
        SafetensorsWriter.write(written, List.of(
                SafetensorsWriter.Tensor.of("f64", DType.F64, new long[] {2}, new float[] {250.5f, 1f}),
                SafetensorsWriter.Tensor.f32("f32", new long[] {2}, new float[] {0.25f, 801f}),
                SafetensorsWriter.Tensor.i64("i64", new long[] {2}, new long[] {999, 1L << 40})));
        try (SafetensorsFile f = SafetensorsFile.open(written)) {
            assertEquals(DType.F64, f.info("f64").dtype());
            assertArrayEquals(new double[] {250.5, 1}, f.doubles("f64"));
            assertArrayEquals(new double[] {0.25, 801}, f.doubles("f32"));
            assertArrayEquals(new double[] {999, 1L << 40}, f.doubles("i64"));
        }
    }

    @Test
    void writeReplacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(SafetensorsWriter.Tensor.f32("a", new long[] {1}, new float[] {1})));
        SafetensorsWriter.write(file, List.of(SafetensorsWriter.Tensor.f32("b", new long[] {1}, new float[] {2})));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("b"), List.copyOf(f.names()));
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void rejectsInconsistentTensors() {
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.Tensor.f32("w", new long[] {2, 2}, new float[3]));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.Tensor.of("w", DType.I64, new long[] {1}, new float[1]));
        IllegalArgumentException duplicate = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(dir.resolve("d.safetensors"), List.of(
                        SafetensorsWriter.Tensor.f32("w", new long[] {1}, new float[1]),
                        SafetensorsWriter.Tensor.f32("w", new long[] {1}, new float[1]))));
        assertTrue(duplicate.getMessage().contains("'w'"));
    }

    @Test
    void offsetsPastTwoGibibytesWork() throws IOException {
        // a sparse file: a 2 GiB + 16 byte zero tensor, then 4 floats; only the header and the last
        // 16 bytes are ever written
        long fillerElements = (1L << 29) + 4;
        long fillerBytes = fillerElements * 4;
        String json = "{\"filler\":{\"dtype\":\"F32\",\"shape\":[" + fillerElements + "],\"data_offsets\":[0," + fillerBytes + "]},"
                + "\"far\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + fillerBytes + "," + (fillerBytes + 16) + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + header.length;
        Path file = dir.resolve("sparse.safetensors");
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.setLength(dataStart + fillerBytes + 16);
            ByteBuffer start = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            start.putLong(header.length).put(header);
            out.write(start.array());
            ByteBuffer tail = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            tail.putFloat(1.5f).putFloat(-2f).putFloat(3.25f).putFloat(1e-3f);
            out.seek(dataStart + fillerBytes);
            out.write(tail.array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(fillerBytes, f.info("far").begin());
            assertTrue(f.info("far").begin() > Integer.MAX_VALUE);
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 1e-3f}, f.floats("far"));
            InvalidTensorFileException tooBig = assertThrows(InvalidTensorFileException.class, () -> f.bytes("filler"));
            assertTrue(tooBig.getMessage().contains("'filler'") && tooBig.getMessage().contains("over 2 GiB"));
        }
    }
}
