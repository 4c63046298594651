package daguerre.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pickle-based checkpoints are refused by name and by content, never unpickled. */
class UnsafeCheckpointTest {

    @TempDir
    Path dir;

    private static void assertExplains(String message, Path file) {
        assertTrue(message.contains(file.toString()), message);
        assertTrue(message.contains("arbitrary code"), "says why: " + message);
        assertTrue(message.contains("convert it to .safetensors") && message.contains("diffusers-format folder"),
                "says how to convert: " + message);
    }

    @Test
    void refusesPickleExtensionsWithoutReadingThem() throws IOException {
        for (String name : List.of("model.ckpt", "model.pt", "model.PTH", "pytorch_model.bin")) {
            Path file = dir.resolve(name);
            Files.write(file, new byte[] {(byte) 0x80, 2, 'c', 'o', 's', '\n'});
            UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class, () -> SafetensorsFile.open(file));
            assertExplains(e.getMessage(), file);
            assertTrue(e.getMessage().contains("PyTorch pickle checkpoint format"), e.getMessage());
        }
        assertTrue(UnsafeCheckpointException.hasPickleExtension(Path.of("a/b.ckpt")));
        assertFalse(UnsafeCheckpointException.hasPickleExtension(Path.of("a/b.safetensors")));
        assertFalse(UnsafeCheckpointException.hasPickleExtension(Path.of("ckpt")));
    }

    @Test
    void refusesZipPayloadNamedSafetensors() throws IOException {
        Path file = dir.resolve("renamed.safetensors");
        Files.write(file, new byte[] {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class, () -> SafetensorsFile.open(file));
        assertExplains(e.getMessage(), file);
        assertTrue(e.getMessage().contains("zip archive"), e.getMessage());
    }

    @Test
    void refusesPicklePayloadNamedSafetensors() throws IOException {
        Path file = dir.resolve("renamed.safetensors");
        // protocol 2 stream as torch's legacy format starts: PROTO 2, LONG1 magic number
        Files.write(file, new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20});
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class, () -> SafetensorsFile.open(file));
        assertExplains(e.getMessage(), file);
        assertTrue(e.getMessage().contains("pickle stream"), e.getMessage());
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {(byte) 0x80, 4, (byte) 0x95});
        assertThrows(UnsafeCheckpointException.class, () -> SafetensorsFile.open(tiny));
    }

    @Test
    void aValidFileWhoseHeaderLengthStartsLikeAPickleOpens() throws IOException {
        // header length 0x280 = 640 puts bytes 80 02 00 ... at the start: still a safetensors file
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"pad\":\"");
        while (json.length() < 640 - 3) {
            json.append('x');
        }
        json.append("\"}}");
        byte[] header = json.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buffer = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(header.length).put(header);
        Path file = dir.resolve("ok.safetensors");
        Files.write(file, buffer.array());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertTrue(f.names().isEmpty());
        }
    }
}
