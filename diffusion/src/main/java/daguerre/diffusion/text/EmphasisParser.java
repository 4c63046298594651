package daguerre.diffusion.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's prompt emphasis syntax, with the same results as its {@code parse_prompt_attention}:
 * <ul>
 *   <li>{@code (text)} multiplies the weight of {@code text} by 1.1, {@code [text]} divides it by 1.1,
 *       {@code (text:1.3)} multiplies it by 1.3; nesting multiplies;</li>
 *   <li>{@code \( \) \[ \] \\} are literal characters; a lone backslash is dropped;</li>
 *   <li>an unmatched {@code )} or {@code ]} (or {@code :w)} with no open round bracket) is kept as text;
 *       brackets still open at the end apply their 1.1 or 1/1.1 to everything after them;</li>
 *   <li>the word {@code BREAK} (upper case, standalone) becomes a {@link WeightedText#isBreak() break}
 *       marker that starts a new 75-token chunk;</li>
 *   <li>neighbouring pieces of equal weight are merged; an empty prompt gives one empty piece of weight 1.</li>
 * </ul>
 * Example: {@code "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."} gives
 * {@code a |1.0, house |1.573, " " |1.1, on |1.0, " a " |1.1, hill |0.55, ", sun, " |1.1, sky |1.4641, . |1.1}.
 */
public final class EmphasisParser {

    /** One piece of a prompt and its attention weight. */
    public record WeightedText(String text, double weight) {

        /** A1111's chunk break, produced by the keyword {@code BREAK}: text "BREAK", weight -1. */
        public static final WeightedText BREAK = new WeightedText("BREAK", -1);

        /** True for the {@code BREAK} marker (text "BREAK" with weight exactly -1, as A1111 tests it). */
        public boolean isBreak() {
            return weight == -1 && text.equals("BREAK");
        }
    }

    static final double ROUND_BRACKET_MULTIPLIER = 1.1;
    static final double SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

    /** Alternatives in priority order: escapes, a lone backslash, openers, ":weight)", closers, plain text, ':'. */
    private static final Pattern ATTENTION = Pattern.compile(
            "\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|:\\s*([+-]?[.\\d]+)\\s*\\)|\\)|]|[^\\\\()\\[\\]:]+|:",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern BREAK_KEYWORD = Pattern.compile("\\s*\\bBREAK\\b\\s*",
            Pattern.DOTALL | Pattern.UNICODE_CHARACTER_CLASS);

    private EmphasisParser() {}

    /**
     * Splits {@code prompt} into weighted pieces.
     *
     * @throws IllegalArgumentException for an explicit weight that is not a number, e.g. {@code (a:1.2.3)}
     *     (A1111 fails on it as well)
     */
    public static List<WeightedText> parse(String prompt) {
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Integer> openRound = new ArrayList<>();
        List<Integer> openSquare = new ArrayList<>();

        Matcher m = ATTENTION.matcher(prompt);
        while (m.find()) {
            String token = m.group();
            String explicitWeight = m.group(1);
            if (token.startsWith("\\")) {
                texts.add(token.substring(1));
                weights.add(1.0);
            } else if (token.equals("(")) {
                openRound.add(texts.size());
            } else if (token.equals("[")) {
                openSquare.add(texts.size());
            } else if (explicitWeight != null && !openRound.isEmpty()) {
                multiplyFrom(weights, removeLast(openRound), parseWeight(explicitWeight));
            } else if (token.equals(")") && !openRound.isEmpty()) {
                multiplyFrom(weights, removeLast(openRound), ROUND_BRACKET_MULTIPLIER);
            } else if (token.equals("]") && !openSquare.isEmpty()) {
                multiplyFrom(weights, removeLast(openSquare), SQUARE_BRACKET_MULTIPLIER);
            } else {
                String[] parts = BREAK_KEYWORD.split(token, -1);
                for (int i = 0; i < parts.length; i++) {
                    if (i > 0) {
                        texts.add(WeightedText.BREAK.text());
                        weights.add(WeightedText.BREAK.weight());
                    }
                    texts.add(parts[i]);
                    weights.add(1.0);
                }
            }
        }
        for (int start : openRound) {
            multiplyFrom(weights, start, ROUND_BRACKET_MULTIPLIER);
        }
        for (int start : openSquare) {
            multiplyFrom(weights, start, SQUARE_BRACKET_MULTIPLIER);
        }

        List<WeightedText> result = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            int last = result.size() - 1;
            if (last >= 0 && result.get(last).weight() == weights.get(i)) {
                result.set(last, new WeightedText(result.get(last).text() + texts.get(i), weights.get(i)));
            } else {
                result.add(new WeightedText(texts.get(i), weights.get(i)));
            }
        }
        if (result.isEmpty()) {
            result.add(new WeightedText("", 1.0));
        }
        return result;
    }

    private static void multiplyFrom(List<Double> weights, int start, double multiplier) {
        for (int p = start; p < weights.size(); p++) {
            weights.set(p, weights.get(p) * multiplier);
        }
    }

    private static int removeLast(List<Integer> stack) {
        return stack.remove(stack.size() - 1);
    }

    /** Python float() of the captured text; Unicode decimal digits count as digits, as they do there. */
    private static double parseWeight(String text) {
        StringBuilder ascii = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            int digit = Character.digit(cp, 10);
            if (digit >= 0 && Character.getType(cp) == Character.DECIMAL_DIGIT_NUMBER) {
                ascii.append((char) ('0' + digit));
            } else {
                ascii.appendCodePoint(cp);
            }
        });
        try {
            return Double.parseDouble(ascii.toString());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid emphasis weight '" + text + "' in prompt", e);
        }
    }
}
