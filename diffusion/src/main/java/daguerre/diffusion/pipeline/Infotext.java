package daguerre.diffusion.pipeline;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Generation parameters in A1111's "infotext" format, the text stored in a PNG's
 * {@code parameters} chunk:
 *
 * <pre>
 * a photo of a cat
 * Negative prompt: blurry
 * Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5
 * </pre>
 *
 * A value containing a comma, colon or newline is written as a JSON string, as A1111 does.
 *
 * @param prompt the positive prompt, as typed
 * @param negativePrompt the negative prompt ("" for none: the line is then omitted)
 * @param parameters the "Key: value" pairs of the last line, in order
 */
public record Infotext(String prompt, String negativePrompt, Map<String, String> parameters) {

    private static final String NEGATIVE = "Negative prompt: ";

    public Infotext {
        parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** The infotext as A1111 writes it. */
    public String format() {
        StringBuilder params = new StringBuilder();
        parameters.forEach((key, value) -> {
            if (params.length() > 0) {
                params.append(", ");
            }
            params.append(key).append(": ").append(quoteIfNeeded(value));
        });
        String text = prompt + (negativePrompt.isEmpty() ? "" : "\n" + NEGATIVE + negativePrompt) + "\n" + params;
        return text.strip();
    }

    /** Formats a number as A1111 shows it: whole numbers without a fraction ("7"), others shortest ("7.5"). */
    public static String number(double value) {
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            return Long.toString((long) value);
        }
        return Double.toString(value);
    }

    /** Parses an infotext back; the last line holding "Steps: " starts the parameters, as in A1111. */
    public static Infotext parse(String text) {
        String[] lines = text.strip().split("\n", -1);
        int paramsLine = -1;
        for (int i = lines.length - 1; i >= 0; i--) {
            if (lines[i].startsWith("Steps: ")) {
                paramsLine = i;
                break;
            }
        }
        String head = String.join("\n", java.util.Arrays.asList(lines).subList(0, paramsLine < 0 ? lines.length : paramsLine));
        int negative = head.startsWith(NEGATIVE) ? 0 : head.indexOf("\n" + NEGATIVE);
        String prompt = negative < 0 ? head : head.substring(0, negative);
        String negativePrompt = negative < 0 ? "" : head.substring(head.indexOf(NEGATIVE, negative) + NEGATIVE.length());
        Map<String, String> params = paramsLine < 0 ? Map.of() : parseParameters(lines[paramsLine]);
        return new Infotext(prompt, negativePrompt, params);
    }

    private static Map<String, String> parseParameters(String line) {
        Map<String, String> params = new LinkedHashMap<>();
        int pos = 0;
        while (pos < line.length()) {
            int colon = line.indexOf(": ", pos);
            if (colon < 0) {
                break;
            }
            String key = line.substring(pos, colon).strip();
            int valueStart = colon + 2;
            String value;
            int next;
            if (valueStart < line.length() && line.charAt(valueStart) == '"') {
                int end = closingQuote(line, valueStart);
                value = unquote(line.substring(valueStart, end + 1));
                next = line.indexOf(", ", end);
            } else {
                next = line.indexOf(", ", valueStart);
                value = line.substring(valueStart, next < 0 ? line.length() : next);
            }
            params.put(key, value);
            pos = next < 0 ? line.length() : next + 2;
        }
        return params;
    }

    private static String quoteIfNeeded(String value) {
        if (value.indexOf(',') < 0 && value.indexOf(':') < 0 && value.indexOf('\n') < 0) {
            return value;
        }
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\r' -> quoted.append("\\r");
                case '\t' -> quoted.append("\\t");
                default -> quoted.append(c);
            }
        }
        return quoted.append('"').toString();
    }

    private static int closingQuote(String line, int open) {
        for (int i = open + 1; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i;
            }
        }
        return line.length() - 1;
    }

    private static String unquote(String quoted) {
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < quoted.length() - 1; i++) {
            char c = quoted.charAt(i);
            if (c == '\\' && i + 1 < quoted.length() - 1) {
                char e = quoted.charAt(++i);
                out.append(switch (e) {
                    case 'n' -> '\n';
                    case 'r' -> '\r';
                    case 't' -> '\t';
                    default -> e;
                });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
