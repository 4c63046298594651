package daguerre.server.jobs;

import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * Opaque ids for jobs, images and batches: 20 random lowercase base-32 characters (100 bits).
 * Anything that does not match the pattern is not an id, which keeps user input away from paths.
 */
public final class Ids {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final Pattern VALID = Pattern.compile("[a-z2-7]{20}");

    private Ids() {}

    /** A new random id. */
    public static String newId() {
        char[] id = new char[20];
        for (int i = 0; i < id.length; i++) {
            id[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return new String(id);
    }

    /** Whether {@code text} has the form of an id (it may still name nothing). */
    public static boolean isValid(String text) {
        return text != null && VALID.matcher(text).matches();
    }

    /** A random seed in [0, 2^32), the range A1111 uses. */
    public static long randomSeed() {
        return RANDOM.nextLong() >>> 32;
    }
}
