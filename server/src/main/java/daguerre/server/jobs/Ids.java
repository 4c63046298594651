package daguerre.server.jobs;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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

    /**
     * The id of the {@code index}-th thing a job (or other owner) makes: the first 100 bits of
     * SHA-256("parent/index") in the same alphabet, so that doing the work again (a job re-run
     * after a crash) gives the same ids instead of duplicates.
     */
    public static String derived(String parent, int index) {
        byte[] digest;
        try {
            digest = MessageDigest.getInstance("SHA-256").digest((parent + "/" + index).getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        char[] id = new char[20];
        for (int i = 0; i < id.length; i++) {
            int bit = i * 5;
            int twoBytes = ((digest[bit / 8] & 0xff) << 8) | (digest[bit / 8 + 1] & 0xff);
            id[i] = ALPHABET[(twoBytes >>> (11 - bit % 8)) & 31];
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
