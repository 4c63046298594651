package daguerre.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed safetensors files are rejected before any allocation, with messages naming file and tensor. */
class SafetensorsValidationTest {

    @TempDir
    Path dir;

    /** Writes an 8-byte length, {@code header} as given, then {@code dataBytes} zero bytes. */
    private Path raw(String name, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return rawBytes(name, json.length, json, dataBytes);
    }

    private Path rawBytes(String name, long declaredLength, byte[] header, int dataBytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(declaredLength).put(header);
        Path file = dir.resolve(name);
        Files.write(file, buffer.array());
        return file;
    }

    private static String fails(Path file) {
        InvalidTensorFileException e = assertThrows(InvalidTensorFileException.class,
                () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "message names the file: " + e.getMessage());
        return e.getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
        }
    }

    @Test
    void truncatedFileIsRejectedNamingTheTensor() throws IOException {
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, List.of(
                SafetensorsWriter.Tensor.f32("first", new long[] {2}, new float[] {1, 2}),
                SafetensorsWriter.Tensor.f32("last", new long[] {4}, new float[] {1, 2, 3, 4})));
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() - 5);
        }
        assertMentions(fails(file), "'last'", "outside the data area");
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        assertMentions(fails(file), "3 bytes", "shorter than the 8-byte header length");
        Path empty = dir.resolve("empty.safetensors");
        Files.write(empty, new byte[0]);
        assertMentions(fails(empty), "0 bytes");
    }

    @Test
    void hugeHeaderLengthIsRejectedWithoutAllocating() throws IOException {
        Path file = rawBytes("huge.safetensors", 1L << 62, "{}".getBytes(StandardCharsets.UTF_8), 0);
        assertMentions(fails(file), "header length " + (1L << 62), "outside");
        Path negative = rawBytes("negative.safetensors", -1L, "{}".getBytes(StandardCharsets.UTF_8), 0);
        assertMentions(fails(negative), "header length 18446744073709551615");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        Path file = rawBytes("past.safetensors", 1000, "{}".getBytes(StandardCharsets.UTF_8), 0);
        assertMentions(fails(file), "header length 1000 runs past the end of the file (10 bytes)");
    }

    @Test
    void badJson() throws IOException {
        assertMentions(fails(raw("bad.safetensors", "{\"a\": ", 0)), "not well-formed JSON");
        assertMentions(fails(raw("trailing.safetensors", "{} {}", 0)), "not well-formed JSON");
        String deep = "{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        assertMentions(fails(raw("deep.safetensors", deep, 0)), "not well-formed JSON");
        String longNumber = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + "9".repeat(5000) + "],\"data_offsets\":[0,4]}}";
        assertMentions(fails(raw("number.safetensors", longNumber, 4)), "not well-formed JSON");
        byte[] invalidUtf8 = {'{', '"', (byte) 0xff, '"', ':', '1', '}'};
        assertMentions(fails(rawBytes("utf8.safetensors", invalidUtf8.length, invalidUtf8, 0)), "not valid UTF-8");
    }

    @Test
    void headerNotAnObject() throws IOException {
        assertMentions(fails(raw("array.safetensors", "[1, 2, 3]", 0)), "header is not a JSON object");
        assertMentions(fails(raw("entry.safetensors", "{\"w\": [1]}", 0)), "'w'", "not a JSON object");
    }

    @Test
    void duplicateKeys() throws IOException {
        String entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        String message = fails(raw("dup.safetensors", "{\"w\":" + entry + ",\"w\":" + entry + "}", 4));
        assertMentions(message, "duplicate key", "w");
    }

    @Test
    void unknownDtype() throws IOException {
        assertMentions(fails(raw("dtype.safetensors", "{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "unsupported dtype 'Q7'");
        assertMentions(fails(raw("nodtype.safetensors", "{\"w\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "dtype");
    }

    @Test
    void negativeOrNonIntegerShapeDimensions() throws IOException {
        assertMentions(fails(raw("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "shape dimension 0 is not a non-negative integer: -1");
        assertMentions(fails(raw("frac.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2.5],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "shape dimension 1", "2.5");
        assertMentions(fails(raw("str.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "shape dimension 0");
        assertMentions(fails(raw("big.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "shape dimension 0");
    }

    @Test
    void absurdShapesWhoseSizeOverflows() throws IOException {
        assertMentions(fails(raw("elements.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "element count overflows");
        assertMentions(fails(raw("bytes.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "byte size overflows");
        assertMentions(fails(raw("large.safetensors",
                        "{\"w\":{\"dtype\":\"F16\",\"shape\":[1099511627776],\"data_offsets\":[0,4]}}", 4)),
                "'w'", "needs 2199023255552");
    }

    @Test
    void wrongByteCountForShape() throws IOException {
        assertMentions(fails(raw("count.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12)),
                "'w'", "byte range holds 12 bytes but shape [2,2] of F32 needs 16");
    }

    @Test
    void outOfRangeOffsets() throws IOException {
        assertMentions(fails(raw("end.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4)),
                "'w'", "data_offsets [0, 8] lie outside the data area of 4 bytes");
        assertMentions(fails(raw("reversed.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4)),
                "'w'", "data_offsets [4, 0]");
        assertMentions(fails(raw("negoff.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4)),
                "'w'", "data_offsets [-4, 0]");
        assertMentions(fails(raw("shape3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8)),
                "'w'", "'data_offsets' must be two integers");
    }

    @Test
    void overlappingRanges() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertMentions(fails(raw("overlap.safetensors", header, 12)), "'b'", "overlaps tensor 'a'");
    }

    @Test
    void metadataMustMapStringsToStrings() throws IOException {
        assertMentions(fails(raw("meta.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"steps\":3}}", 0)),
                "__metadata__ value 'steps' is not a string");
        assertMentions(fails(raw("meta2.safetensors", "{\"__metadata__\":[\"pt\"]}", 0)),
                "__metadata__ is not a JSON object");
    }

    @Test
    void wellFormedRawFileOpens() throws IOException {
        Path file = raw("ok.safetensors", "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[4,4]}}", 4);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("w", "empty"), List.copyOf(f.names()));
            assertEquals("pt", f.metadata().get("format"));
            assertEquals(0, f.floats("empty").length);
            assertEquals(0f, f.floats("w")[0]);
            InvalidTensorFileException e = assertThrows(InvalidTensorFileException.class, () -> f.floats("nope"));
            assertMentions(e.getMessage(), file.toString(), "'nope'", "no such tensor");
        }
    }
}
