package daguerre.server.batch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.RequestException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Reads batch prompt files into native generation requests, one per non-blank line, in any mix of:
 * <ul>
 *   <li>A1111's "prompts from file" lines: {@code --prompt "a cat" --negative_prompt "blurry" --steps 30
 *       --cfg_scale 7 --seed 42 --width 512 --height 512 --sampler_name "Euler a"};</li>
 *   <li>JSON Lines: one native request object per line ({@code {"prompt": "a cat", "steps": 30}});</li>
 *   <li>a plain line, which is the prompt.</li>
 * </ul>
 * Each line parses on its own: a bad one gets an error with its line number and the others still count.
 */
public final class PromptFileParser {

    /**
     * One line of a prompt file.
     *
     * @param line the 1-based line number (of a JSON array: the 1-based element number)
     * @param source the line as written (of a JSON array: the element as compact JSON)
     * @param request the native request, or null when the line is bad
     * @param error why the line is bad, or null
     */
    public record Line(int line, String source, ObjectNode request, RequestException error) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** A1111 option → native field, for options whose value is text. */
    private static final Map<String, String> TEXT_OPTIONS = Map.of(
            "prompt", "prompt", "negative_prompt", "negative_prompt", "sampler_name", "sampler", "sd_model", "model");
    /** A1111 option → native field, for options whose value is an integer. */
    private static final Map<String, String> INTEGER_OPTIONS = Map.of(
            "steps", "steps", "seed", "seed", "width", "width", "height", "height", "clip_skip", "clip_skip",
            "batch_size", "batch_size", "n_iter", "n_iter", "cache_interval", "cache_interval");
    /** A1111 option → native field, for options whose value is a number. */
    private static final Map<String, String> NUMBER_OPTIONS = Map.of("cfg_scale", "guidance_scale");

    private final UnaryOperator<String> samplerFromA1111;

    /** @param samplerFromA1111 maps an A1111 sampler name ({@code Euler a}) to the API name, or returns it unchanged if unknown */
    public PromptFileParser(UnaryOperator<String> samplerFromA1111) {
        this.samplerFromA1111 = samplerFromA1111;
    }

    /**
     * Reads a prompt file, stopping at its {@code maxLines + 1}-th prompt (non-blank) line: a file
     * with too many lines is refused before the rest of it is read or any line is parsed.
     *
     * @throws RequestException 413 {@code too_many_lines} naming the limit
     */
    public static String read(java.io.Reader file, int maxLines) throws java.io.IOException {
        StringBuilder text = new StringBuilder();
        int prompts = 0;
        java.io.BufferedReader lines = new java.io.BufferedReader(file);
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            if (!line.isBlank() && ++prompts > maxLines) {
                throw tooManyLines(maxLines);
            }
            text.append(line).append('\n');
        }
        return text.toString();
    }

    /**
     * Refuses {@code text} when it has more than {@code maxLines} prompt (non-blank) lines,
     * counting only as far as line {@code maxLines + 1}, before any line is parsed.
     *
     * @throws RequestException 413 {@code too_many_lines} naming the limit
     */
    public static void checkLineCount(String text, int maxLines) {
        int prompts = 0;
        boolean blank = true;
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : '\n';
            if (c == '\n') {
                if (!blank && ++prompts > maxLines) {
                    throw tooManyLines(maxLines);
                }
                blank = true;
            } else if (!Character.isWhitespace(c)) {
                blank = false;
            }
        }
    }

    private static RequestException tooManyLines(int maxLines) {
        return new RequestException(413, "too_many_lines", "the prompt file has more than " + maxLines
                + " prompt lines (--max-batch-lines); split it into several batches", null);
    }

    /** Parses every non-blank line of {@code text}. */
    public List<Line> parse(String text) {
        List<Line> lines = new ArrayList<>();
        String[] rows = text.split("\r?\n", -1);
        for (int i = 0; i < rows.length; i++) {
            String row = rows[i].strip();
            if (row.isEmpty()) {
                continue;
            }
            try {
                lines.add(new Line(i + 1, row, parseLine(row), null));
            } catch (RequestException e) {
                lines.add(new Line(i + 1, row, null, e));
            }
        }
        return lines;
    }

    /**
     * Reads the elements of a JSON array of native requests (the JSON body of a batch), one line each:
     * an element that is not an object gets an error naming its number.
     */
    public static List<Line> parseRequests(JsonNode array) {
        List<Line> lines = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            JsonNode element = array.get(i);
            if (element.isObject()) {
                lines.add(new Line(i + 1, element.toString(), (ObjectNode) element, null));
            } else {
                lines.add(new Line(i + 1, element.toString(), null, new RequestException(400, "invalid_type", "element " + (i + 1)
                        + " of the list is " + kind(element) + ", not a request object such as {\"prompt\": \"a cat\"}", null)));
            }
        }
        return lines;
    }

    /** What a JSON value is, in words: "a string", "a number", "a list", ... */
    private static String kind(JsonNode value) {
        return switch (value.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "true or false";
            case ARRAY -> "a list";
            case NULL -> "null";
            default -> "not an object";
        };
    }

    /**
     * What is wrong with text that is not valid JSON, in a user's terms and with where it is (not the
     * JSON library's own message, which talks of tokens and Java types).
     */
    public static String jsonProblem(JsonProcessingException e) {
        com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 1 ? "" : at.getLineNr() == 1 ? " at column " + at.getColumnNr()
                : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        if (e instanceof com.fasterxml.jackson.core.io.JsonEOFException) {
            return "it ends too early" + where + " (a closing quote, } or ] is missing)";
        }
        return "unexpected text" + where + " (names and strings need double quotes, items are separated by commas,"
                + " and nothing may follow the end)";
    }

    private ObjectNode parseLine(String row) {
        if (row.startsWith("{")) {
            try {
                JsonNode node = JSON.readTree(row);
                if (!node.isObject()) {
                    throw new RequestException(400, "invalid_json", "the line is not a JSON object", null);
                }
                return (ObjectNode) node;
            } catch (JsonProcessingException e) {
                throw new RequestException(400, "invalid_json", "the line is not valid JSON: " + jsonProblem(e), null);
            }
        }
        if (row.startsWith("--")) {
            return parseA1111(tokenize(row));
        }
        return JSON.createObjectNode().put("prompt", row);
    }

    private ObjectNode parseA1111(List<String> tokens) {
        ObjectNode request = JSON.createObjectNode();
        int batchSize = 1;
        int iterations = 1;
        for (int i = 0; i < tokens.size(); i += 2) {
            String token = tokens.get(i);
            if (!token.startsWith("--")) {
                throw new RequestException(400, "invalid_line", "expected an option such as --prompt, got " + token, null);
            }
            String option = token.substring(2);
            if (i + 1 >= tokens.size()) {
                throw new RequestException(400, "invalid_line", "option --" + option + " has no value", option);
            }
            String value = tokens.get(i + 1);
            if (TEXT_OPTIONS.containsKey(option)) {
                String field = TEXT_OPTIONS.get(option);
                request.put(field, field.equals("sampler") ? samplerFromA1111.apply(value) : value);
            } else if (INTEGER_OPTIONS.containsKey(option)) {
                long number = parseInteger(option, value);
                switch (option) {
                    case "batch_size" -> batchSize = (int) Math.min(number, Integer.MAX_VALUE);
                    case "n_iter" -> iterations = (int) Math.min(number, Integer.MAX_VALUE);
                    default -> request.put(INTEGER_OPTIONS.get(option), number);
                }
            } else if (NUMBER_OPTIONS.containsKey(option)) {
                try {
                    request.put(NUMBER_OPTIONS.get(option), Double.parseDouble(value));
                } catch (NumberFormatException e) {
                    throw new RequestException(400, "invalid_type", option + " must be a number, got " + value, option);
                }
            } else {
                throw new RequestException(400, "unknown_field", "unknown option --" + option, option);
            }
        }
        if (batchSize != 1 || iterations != 1) {
            request.put("n", (long) batchSize * iterations);
        }
        if (!request.has("prompt")) {
            throw new RequestException(400, "missing_field", "the line has no --prompt", "prompt");
        }
        return request;
    }

    private static long parseInteger(String option, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new RequestException(400, "invalid_type", option + " must be an integer, got " + value, option);
        }
    }

    /** Splits a line into words as a POSIX shell does: single and double quotes, backslash escapes. */
    static List<String> tokenize(String line) {
        List<String> tokens = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean inToken = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote == '\'') {
                if (c == '\'') {
                    quote = 0;
                } else {
                    current.append(c);
                }
            } else if (quote == '"') {
                if (c == '"') {
                    quote = 0;
                } else if (c == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                    current.append(line.charAt(++i));
                } else {
                    current.append(c);
                }
            } else if (Character.isWhitespace(c)) {
                if (inToken) {
                    tokens.add(current.toString());
                    current.setLength(0);
                    inToken = false;
                }
            } else {
                inToken = true;
                if (c == '\'' || c == '"') {
                    quote = c;
                } else if (c == '\\' && i + 1 < line.length()) {
                    current.append(line.charAt(++i));
                } else {
                    current.append(c);
                }
            }
        }
        if (quote != 0) {
            throw new RequestException(400, "invalid_line", "unterminated " + quote + " quote", null);
        }
        if (inToken) {
            tokens.add(current.toString());
        }
        return tokens;
    }
}
