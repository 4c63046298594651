package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * JPEGs with the infotext as A1111 saves them: in the EXIF {@code UserComment} (tag 0x9286 of the Exif
 * IFD), written as piexif does, {@code "UNICODE\0"} and the text in UTF-16 big-endian, in an APP1
 * segment after the JFIF header; read back from any byte order and from the {@code ASCII} form too.
 */
public final class JpegText {

    private static final byte[] EXIF = {'E', 'x', 'i', 'f', 0, 0};
    private static final byte[] UNICODE = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
    private static final byte[] ASCII = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};
    private static final int EXIF_IFD_POINTER = 0x8769;
    private static final int USER_COMMENT = 0x9286;
    /** An APP1 segment's payload is at most 65533 bytes. */
    private static final int MAX_SEGMENT = 65533;

    private JpegText() {}

    /**
     * {@code image} (its RGB: JPEG has no alpha) as a JPEG of {@code quality} (1-100, as A1111's
     * {@code jpeg_quality}) with {@code infotext} as its EXIF UserComment.
     *
     * @throws IllegalArgumentException for a quality outside 1-100 or an infotext too long for one EXIF segment
     */
    public static byte[] write(BufferedImage image, String infotext, int quality) throws IOException {
        if (quality < 1 || quality > 100) {
            throw new IllegalArgumentException("JPEG quality must be between 1 and 100, got " + quality);
        }
        BufferedImage rgb = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
        rgb.getGraphics().drawImage(image, 0, 0, null);
        ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(jpeg)) {
            writer.setOutput(out);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(quality / 100f);
            writer.write(null, new IIOImage(rgb, null, null), param);
        } finally {
            writer.dispose();
        }
        return insertApp1(jpeg.toByteArray(), exif(infotext));
    }

    /** The EXIF UserComment of a JPEG, if it has one; an exception for bytes that are not a JPEG. */
    public static Optional<String> read(byte[] jpeg) {
        if (jpeg.length < 4 || (jpeg[0] & 0xff) != 0xff || (jpeg[1] & 0xff) != 0xd8) {
            throw new IllegalArgumentException("not a JPEG file");
        }
        int at = 2;
        while (at + 4 <= jpeg.length && (jpeg[at] & 0xff) == 0xff) {
            int marker = jpeg[at + 1] & 0xff;
            if (marker == 0xda || marker == 0xd9) {           // start of scan / end of image: no more headers
                break;
            }
            int length = ((jpeg[at + 2] & 0xff) << 8) | (jpeg[at + 3] & 0xff);
            int payload = at + 4;
            if (marker == 0xe1 && payload + EXIF.length <= jpeg.length
                    && Arrays.equals(Arrays.copyOfRange(jpeg, payload, payload + EXIF.length), EXIF)) {
                return userComment(Arrays.copyOfRange(jpeg, payload + EXIF.length, Math.min(jpeg.length, at + 2 + length)));
            }
            at += 2 + length;
        }
        return Optional.empty();
    }

    /** "Exif\0\0" + a big-endian TIFF: IFD0 holding only the Exif IFD pointer, the Exif IFD holding only the UserComment. */
    private static byte[] exif(String infotext) {
        byte[] text = infotext.getBytes(StandardCharsets.UTF_16BE);
        int comment = UNICODE.length + text.length;
        int exifIfd = 8 + 2 + 12 + 4;                 // after the header and IFD0
        int data = exifIfd + 2 + 12 + 4;              // after the Exif IFD
        ByteBuffer tiff = ByteBuffer.allocate(data + comment).order(ByteOrder.BIG_ENDIAN);
        tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8);
        tiff.putShort((short) 1).putShort((short) EXIF_IFD_POINTER).putShort((short) 4).putInt(1).putInt(exifIfd).putInt(0);
        tiff.putShort((short) 1).putShort((short) USER_COMMENT).putShort((short) 7).putInt(comment).putInt(data).putInt(0);
        tiff.put(UNICODE).put(text);
        byte[] segment = new byte[EXIF.length + tiff.capacity()];
        System.arraycopy(EXIF, 0, segment, 0, EXIF.length);
        System.arraycopy(tiff.array(), 0, segment, EXIF.length, tiff.capacity());
        if (segment.length > MAX_SEGMENT) {
            throw new IllegalArgumentException("the infotext (" + infotext.length() + " characters) is too long for a JPEG's EXIF"
                    + " segment; save as PNG");
        }
        return segment;
    }

    /** The JPEG with an APP1 segment of {@code payload} after SOI and any JFIF APP0 (where piexif puts it). */
    private static byte[] insertApp1(byte[] jpeg, byte[] payload) {
        int at = 2;
        if ((jpeg[2] & 0xff) == 0xff && (jpeg[3] & 0xff) == 0xe0) {
            at = 4 + (((jpeg[4] & 0xff) << 8) | (jpeg[5] & 0xff));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(jpeg.length + payload.length + 4);
        out.write(jpeg, 0, at);
        out.write(0xff);
        out.write(0xe1);
        int length = payload.length + 2;
        out.write(length >> 8);
        out.write(length & 0xff);
        out.write(payload, 0, payload.length);
        out.write(jpeg, at, jpeg.length - at);
        return out.toByteArray();
    }

    /** The UserComment of a TIFF block, following IFD0's Exif IFD pointer, in the block's byte order. */
    private static Optional<String> userComment(byte[] tiffBytes) {
        if (tiffBytes.length < 8) {
            return Optional.empty();
        }
        ByteBuffer tiff = ByteBuffer.wrap(tiffBytes)
                .order(tiffBytes[0] == 'I' ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        try {
            int exifIfd = (int) entry(tiff, tiff.getInt(4), EXIF_IFD_POINTER, true);
            if (exifIfd < 0) {
                return Optional.empty();
            }
            long at = entry(tiff, exifIfd, USER_COMMENT, false);
            if (at < 0) {
                return Optional.empty();
            }
            long offset = at >>> 32;
            long count = at & 0xffffffffL;
            if (offset + count > tiffBytes.length) {
                return Optional.empty(); // a damaged entry: never allocate what it claims
            }
            byte[] value = Arrays.copyOfRange(tiffBytes, (int) offset, (int) (offset + count));
            byte[] prefix = Arrays.copyOf(value, Math.min(8, value.length));
            byte[] body = Arrays.copyOfRange(value, prefix.length, value.length);
            if (Arrays.equals(prefix, UNICODE)) {
                boolean littleEndian = tiff.order() == ByteOrder.LITTLE_ENDIAN && body.length > 1 && body[0] != 0 && body[1] == 0;
                return Optional.of(new String(body, littleEndian ? StandardCharsets.UTF_16LE : StandardCharsets.UTF_16BE));
            }
            if (Arrays.equals(prefix, ASCII)) {
                return Optional.of(new String(body, StandardCharsets.US_ASCII));
            }
            return Optional.of(new String(value, StandardCharsets.UTF_8).strip());
        } catch (IndexOutOfBoundsException | java.nio.BufferUnderflowException damaged) {
            return Optional.empty();
        }
    }

    /**
     * In the IFD at {@code ifd}, the entry {@code tag}: its LONG value ({@code pointer}), else its data's
     * offset (high 32 bits) and byte count (low 32 bits); -1 when absent.
     */
    private static long entry(ByteBuffer tiff, int ifd, int tag, boolean pointer) {
        int entries = tiff.getShort(ifd) & 0xffff;
        for (int i = 0; i < entries; i++) {
            int e = ifd + 2 + 12 * i;
            if ((tiff.getShort(e) & 0xffff) == tag) {
                long count = tiff.getInt(e + 4) & 0xffffffffL;
                long value = tiff.getInt(e + 8) & 0xffffffffL;
                if (pointer) {
                    return value;
                }
                // four bytes or fewer sit in the entry itself
                return count <= 4 ? ((long) (e + 8) << 32) | count : (value << 32) | count;
            }
        }
        return -1;
    }
}
