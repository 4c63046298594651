package daguerre.server.gallery;

import daguerre.server.jobs.RequestException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** The gallery's page cursor: an opaque encoding of the last row's sequence number. */
public final class ImageCursor {

    private ImageCursor() {}

    public static String encode(long seq) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(("s" + seq).getBytes(StandardCharsets.US_ASCII));
    }

    /** @throws RequestException 400 for anything this service did not return */
    public static long decode(String cursor) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (!text.startsWith("s")) {
                throw new IllegalArgumentException();
            }
            return Long.parseLong(text.substring(1));
        } catch (IllegalArgumentException e) {
            throw RequestException.invalid("cursor", "cursor is not a cursor this service returned");
        }
    }
}
