package daguerre.diffusion.pipeline;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Text chunks in PNG files: writes a {@code tEXt} chunk (Latin-1) or, when the text needs
 * other characters, an uncompressed {@code iTXt} chunk (UTF-8), as PIL does for A1111's
 * {@code parameters}; and reads them back.
 */
public final class PngText {

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private PngText() {}

    /** Returns {@code png} with a text chunk {@code key}={@code value} inserted right after IHDR. */
    public static byte[] withText(byte[] png, String key, String value) {
        checkSignature(png);
        int ihdrEnd = SIGNATURE.length + 12 + readInt(png, SIGNATURE.length);
        boolean latin1 = StandardCharsets.ISO_8859_1.newEncoder().canEncode(value);
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        data.writeBytes(key.getBytes(StandardCharsets.ISO_8859_1));
        data.write(0);
        String type;
        if (latin1) {
            type = "tEXt";
            data.writeBytes(value.getBytes(StandardCharsets.ISO_8859_1));
        } else {
            type = "iTXt";
            data.write(0); // compression flag: uncompressed
            data.write(0); // compression method
            data.write(0); // empty language tag
            data.write(0); // empty translated keyword
            data.writeBytes(value.getBytes(StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(png.length + data.size() + 12);
        out.write(png, 0, ihdrEnd);
        writeChunk(out, type, data.toByteArray());
        out.write(png, ihdrEnd, png.length - ihdrEnd);
        return out.toByteArray();
    }

    /** All tEXt and uncompressed iTXt chunks of {@code png}, by keyword in file order. */
    public static Map<String, String> read(byte[] png) throws IOException {
        checkSignature(png);
        Map<String, String> texts = new LinkedHashMap<>();
        int pos = SIGNATURE.length;
        while (pos + 12 <= png.length) {
            int length = readInt(png, pos);
            if (length < 0 || pos + 12L + length > png.length) {
                throw new IOException("PNG chunk at byte " + pos + " runs past the end of the file");
            }
            String type = new String(png, pos + 4, 4, StandardCharsets.ISO_8859_1);
            byte[] data = Arrays.copyOfRange(png, pos + 8, pos + 8 + length);
            if (type.equals("tEXt") || type.equals("iTXt")) {
                int nul = indexOf(data, 0);
                if (nul > 0) {
                    String key = new String(data, 0, nul, StandardCharsets.ISO_8859_1);
                    if (type.equals("tEXt")) {
                        texts.put(key, new String(data, nul + 1, data.length - nul - 1, StandardCharsets.ISO_8859_1));
                    } else if (nul + 2 < data.length && data[nul + 1] == 0) {
                        int lang = indexOf(data, nul + 3);
                        int translated = lang < 0 ? -1 : indexOf(data, lang + 1);
                        if (translated >= 0) {
                            texts.put(key, new String(data, translated + 1, data.length - translated - 1, StandardCharsets.UTF_8));
                        }
                    }
                }
            }
            if (type.equals("IEND")) {
                break;
            }
            pos += 12 + length;
        }
        return texts;
    }

    private static void writeChunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] typeBytes = type.getBytes(StandardCharsets.ISO_8859_1);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(typeBytes);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    private static void checkSignature(byte[] png) {
        if (png.length < SIGNATURE.length + 12 || !Arrays.equals(Arrays.copyOf(png, SIGNATURE.length), SIGNATURE)) {
            throw new IllegalArgumentException("not a PNG file");
        }
    }

    private static int readInt(byte[] b, int pos) {
        return ByteBuffer.wrap(b, pos, 4).getInt();
    }

    private static int indexOf(byte[] data, int from) {
        for (int i = from; i < data.length; i++) {
            if (data[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
