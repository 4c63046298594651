package daguerre.server.cli;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An A1111-style file-name pattern for {@code generate --filename-pattern}: text with
 * {@code [seed]}, {@code [prompt_words]}, {@code [date]}, {@code [model_name]}, {@code [model_hash]},
 * {@code [steps]}, {@code [cfg]}, {@code [sampler]}, {@code [width]} and {@code [height]}. The
 * expansion has the characters that are unsafe in file names replaced by {@code _} and is cut to
 * {@value #MAX_LENGTH} characters; the caller puts the unique number in front.
 */
public final class FilenamePattern {

    /** The tokens a pattern may use. */
    public static final List<String> TOKENS = List.of(
            "seed", "prompt_words", "date", "model_name", "model_hash", "steps", "cfg", "sampler", "width", "height");

    /** The default: {@code NNNNN-SEED.png}. */
    public static final String DEFAULT = "[seed]";

    /** The longest expansion kept (A1111's max_filename_part_length). */
    public static final int MAX_LENGTH = 128;

    /** The most UTF-8 bytes kept (a file name holds at most 255, the number and extension included). */
    public static final int MAX_BYTES = 200;

    /** How many of the prompt's words {@code [prompt_words]} keeps (A1111's default). */
    public static final int PROMPT_WORDS = 8;

    private static final Pattern TOKEN = Pattern.compile("\\[([^\\[\\]]*)]");
    private static final Pattern NON_WORDS = Pattern.compile("[\\s\\p{Punct}]+");

    private final String pattern;

    private FilenamePattern(String pattern) {
        this.pattern = pattern;
    }

    /** Checks the pattern's tokens; an unknown one is refused by name. */
    public static FilenamePattern parse(String pattern) {
        Matcher m = TOKEN.matcher(pattern);
        while (m.find()) {
            if (!TOKENS.contains(m.group(1).toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("--filename-pattern: unknown token [" + m.group(1) + "] (known: ["
                        + String.join("], [", TOKENS) + "])");
            }
        }
        return new FilenamePattern(pattern);
    }

    /** The pattern with each token replaced by {@code values.get(token)}, made safe as a file-name part. */
    public String expand(Map<String, String> values) {
        Matcher m = TOKEN.matcher(pattern);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.get(m.group(1).toLowerCase(Locale.ROOT));
            m.appendReplacement(out, Matcher.quoteReplacement(value == null ? "" : value));
        }
        m.appendTail(out);
        return sanitize(out.toString());
    }

    /** The values of the tokens that do not depend on the image. */
    static Map<String, String> values(long seed, String prompt, String modelName, String modelHash, String steps, String cfg,
                                      String sampler, int width, int height) {
        return Map.of("seed", Long.toString(seed), "prompt_words", promptWords(prompt), "date", LocalDate.now().toString(),
                "model_name", modelName, "model_hash", modelHash, "steps", steps, "cfg", cfg, "sampler", sampler,
                "width", Integer.toString(width), "height", Integer.toString(height));
    }

    /** The first {@value #PROMPT_WORDS} words of the prompt (split at spaces and punctuation), or "empty". */
    static String promptWords(String prompt) {
        List<String> words = new ArrayList<>();
        for (String word : NON_WORDS.split(prompt)) {
            if (!word.isEmpty() && words.size() < PROMPT_WORDS) {
                words.add(word);
            }
        }
        return words.isEmpty() ? "empty" : String.join(" ", words);
    }

    /**
     * {@code #<>:"/\|?*} and control characters become {@code _}; spaces and dots at the ends are
     * dropped; the result is cut to {@value #MAX_LENGTH} characters and {@value #MAX_BYTES} UTF-8 bytes.
     */
    static String sanitize(String part) {
        StringBuilder out = new StringBuilder(part.length());
        part.codePoints().forEach(c -> out.appendCodePoint(c < 0x20 || c == 0x7f || "#<>:\"/\\|?*".indexOf(c) >= 0 ? '_' : c));
        String safe = out.toString().replaceAll("^[\\s.]+|[\\s.]+$", "");
        if (safe.length() > MAX_LENGTH) {
            int end = MAX_LENGTH;
            if (Character.isHighSurrogate(safe.charAt(end - 1))) {
                end--;
            }
            safe = safe.substring(0, end).stripTrailing();
        }
        while (safe.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_BYTES) {
            safe = safe.substring(0, safe.offsetByCodePoints(safe.length(), -1));
        }
        return safe;
    }
}
