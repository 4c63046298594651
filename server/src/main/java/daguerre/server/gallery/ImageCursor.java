package daguerre.server.gallery;

import daguerre.server.jobs.RequestException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** The gallery's page cursor: an opaque encoding of the last row's sequence number. */
public final class ImageCursor {

    private ImageCursor() {}

    /** The letter that starts a cursor of each order ("s" for newest first, as cursors were before there was a choice). */
    private static String prefix(ImageQuery.Order order) {
        return order == ImageQuery.Order.OLDEST ? "o" : "s";
    }

    public static String encode(long seq, ImageQuery.Order order) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((prefix(order) + seq).getBytes(StandardCharsets.US_ASCII));
    }

    /** @throws RequestException 400 for anything this service did not return, or a cursor of the other order */
    public static long decode(String cursor, ImageQuery.Order order) {
        String text;
        long seq;
        try {
            text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            seq = Long.parseLong(text.substring(1));
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            throw RequestException.invalid("cursor", "cursor is not a cursor this service returned");
        }
        if (text.startsWith(prefix(order))) {
            return seq;
        }
        if (text.startsWith("s") || text.startsWith("o")) {
            throw RequestException.invalid("cursor", "cursor belongs to a page of the other sort order; start again without a cursor");
        }
        throw RequestException.invalid("cursor", "cursor is not a cursor this service returned");
    }
}
