package daguerre.server.styles;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A1111's {@code styles.csv}: a header naming the columns ({@code name,prompt,negative_prompt}; the old
 * {@code name,text} form is read too), then one style a row. Read as Python's {@code csv} reads it with
 * {@code skipinitialspace} (quoted fields may hold commas, doubled quotes and line breaks; a byte order
 * mark and any line ending are accepted; blank rows are skipped; a later row wins over an earlier one
 * of the same name), and written as its {@code csv.DictWriter} writes it (UTF-8 with a byte order mark,
 * CRLF, fields quoted only when they must be).
 */
public final class StylesCsv {

    private static final String BOM = "\uFEFF";
    private static final List<String> COLUMNS = List.of("name", "prompt", "negative_prompt");

    private StylesCsv() {}

    /** A file that is not a styles table, with the line (1-based) where it goes wrong. */
    public static final class FormatException extends Exception {

        private final int line;

        FormatException(int line, String problem) {
            super("line " + line + ": " + problem, null, false, false);
            this.line = line;
        }

        public int line() {
            return line;
        }
    }

    /** The styles in {@code text}, in file order, one per name. */
    public static List<PromptStyle> parse(String text) throws FormatException {
        List<Row> rows = rows(text.startsWith(BOM) ? text.substring(1) : text);
        if (rows.isEmpty()) {
            return List.of();
        }
        Row header = rows.get(0);
        int name = header.fields.indexOf("name");
        int prompt = header.fields.contains("prompt") ? header.fields.indexOf("prompt") : header.fields.indexOf("text");
        int negative = header.fields.indexOf("negative_prompt");
        if (name < 0 || prompt < 0) {
            throw new FormatException(header.line, "the header must name the columns " + String.join(",", COLUMNS)
                    + " (it names " + String.join(",", header.fields) + ")");
        }
        Map<String, PromptStyle> styles = new LinkedHashMap<>();
        for (Row row : rows.subList(1, rows.size())) {
            if (row.fields.size() > header.fields.size()) {
                throw new FormatException(row.line, "the row has " + row.fields.size() + " fields, the header names "
                        + header.fields.size() + " (quote a text that holds a comma)");
            }
            String styleName = row.field(name);
            if (styleName.isEmpty()) {
                throw new FormatException(row.line, "the style has no name");
            }
            styles.remove(styleName); // a later row of the same name wins, in the later row's place
            styles.put(styleName, new PromptStyle(styleName, row.field(prompt), row.field(negative)));
        }
        return List.copyOf(styles.values());
    }

    /** {@code styles} as A1111 writes {@code styles.csv}. */
    public static String format(List<PromptStyle> styles) {
        StringBuilder out = new StringBuilder(BOM).append(String.join(",", COLUMNS)).append("\r\n");
        for (PromptStyle style : styles) {
            out.append(quoted(style.name())).append(',').append(quoted(style.prompt())).append(',')
                    .append(quoted(style.negativePrompt())).append("\r\n");
        }
        return out.toString();
    }

    /**
     * Quotes a field as Python's minimal quoting does (a comma, quote or line break in it), and also
     * one that starts with a space, which a reader skipping initial spaces would otherwise lose.
     */
    private static String quoted(String field) {
        boolean quote = field.startsWith(" ") || field.chars().anyMatch(c -> c == ',' || c == '"' || c == '\r' || c == '\n');
        return quote ? '"' + field.replace("\"", "\"\"") + '"' : field;
    }

    /** One record of the file: its fields and the line it starts on. */
    private record Row(int line, List<String> fields) {

        String field(int index) {
            return index >= 0 && index < fields.size() ? fields.get(index) : "";
        }
    }

    /** The non-blank records of {@code text}. */
    private static List<Row> rows(String text) throws FormatException {
        List<Row> rows = new ArrayList<>();
        int line = 1;
        int pos = 0;
        while (pos < text.length()) {
            int start = line;
            List<String> fields = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean endOfRecord = false;
            boolean startOfField = true;
            while (pos < text.length() && !endOfRecord) {
                char c = text.charAt(pos);
                if (startOfField && c == ' ') {
                    pos++; // skipinitialspace
                } else if (startOfField && c == '"') {
                    int open = line;
                    pos++;
                    for (;;) {
                        if (pos >= text.length()) {
                            throw new FormatException(open, "a quoted field is not closed (a \" is missing)");
                        }
                        char q = text.charAt(pos++);
                        if (q == '"' && pos < text.length() && text.charAt(pos) == '"') {
                            field.append('"');
                            pos++;
                        } else if (q == '"') {
                            break;
                        } else {
                            if (q == '\n' || q == '\r' && (pos >= text.length() || text.charAt(pos) != '\n')) {
                                line++;
                            }
                            field.append(q);
                        }
                    }
                    startOfField = false;
                } else if (c == ',') {
                    fields.add(field.toString());
                    field.setLength(0);
                    startOfField = true;
                    pos++;
                } else if (c == '\r' || c == '\n') {
                    pos += c == '\r' && pos + 1 < text.length() && text.charAt(pos + 1) == '\n' ? 2 : 1;
                    line++;
                    endOfRecord = true;
                } else {
                    field.append(c); // as Python's reader: text after a closing quote, or a quote inside a field, is kept
                    startOfField = false;
                    pos++;
                }
            }
            fields.add(field.toString());
            if (!(fields.size() == 1 && fields.get(0).isEmpty())) {
                rows.add(new Row(start, fields));
            }
        }
        return rows;
    }
}
