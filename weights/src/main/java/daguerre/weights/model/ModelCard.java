package daguerre.weights.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What a model says about itself: {@value #FILE_NAME} in a diffusers folder (a Daguerre extension
 * that diffusers ignores). A model trained on captions of one form (Daguerre's default model) also
 * gives that form and the emoji/words it was trained on, so that a prompt outside them can be run
 * with a warning that names what the model does not know.
 *
 * @param id the model id clients use (instead of the folder name)
 * @param description one sentence for model lists
 * @param captionGrammar the caption form for people, e.g. {@code {emoji name}, {twemoji|noto} style, on a {colour} background}
 * @param captionPattern the same form as a regular expression over the whole lower-cased prompt,
 *                       with a named group {@code subject}; null when the model takes any prompt
 * @param subjects the values of {@code subject} seen in training (empty: not checked)
 * @param vocabulary every word of the training captions (empty: not checked), see {@link #words}
 * @param drawsWell what the model draws well, for people
 * @param examplePrompts prompts that work
 */
public record ModelCard(String id, String description, String captionGrammar, Pattern captionPattern,
                        Set<String> subjects, Set<String> vocabulary, String drawsWell, List<String> examplePrompts) {

    /** The card's file name inside a model folder. */
    public static final String FILE_NAME = "daguerre_model.json";
    /** How many unknown words a warning names at most. */
    static final int MAX_NAMED_WORDS = 10;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]+");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** A1111 emphasis syntax, left out before checking a prompt: {@code (a:1.2)}, {@code [a]}, {@code (a)}. */
    private static final Pattern EMPHASIS = Pattern.compile("[()\\[\\]]|:\\s*-?[0-9.]+\\s*(?=\\))");

    public ModelCard {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("id must be 1-64 letters, digits, '.', '_' or '-', got " + id);
        }
        description = description == null ? "" : description;
        captionGrammar = captionGrammar == null ? "" : captionGrammar;
        subjects = Set.copyOf(subjects);
        vocabulary = Set.copyOf(vocabulary);
        drawsWell = drawsWell == null ? "" : drawsWell;
        examplePrompts = List.copyOf(examplePrompts);
    }

    /** The card in {@code modelPath} when it is a folder holding {@value #FILE_NAME}. */
    public static Optional<ModelCard> find(Path modelPath) throws IOException {
        Path file = modelPath.resolve(FILE_NAME);
        return Files.isDirectory(modelPath) && Files.isRegularFile(file) ? Optional.of(read(file)) : Optional.empty();
    }

    /** Reads a card; every error names the file and the field. */
    public static ModelCard read(Path file) throws IOException {
        JsonNode json;
        try {
            json = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        try {
            return fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The card a JSON object holds, in the file's form (a cluster's workers carry their models' cards to the
     * api nodes this way).
     *
     * @throws IllegalArgumentException naming the field that is wrong
     */
    public static ModelCard fromJson(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException("must be a JSON object");
        }
        String patternText = text(json, "caption_pattern");
        Pattern pattern;
        try {
            pattern = patternText == null ? null : Pattern.compile(patternText);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("caption_pattern is not a regular expression: " + e.getDescription(), e);
        }
        if (pattern != null && !patternText.contains("(?<subject>")) {
            throw new IllegalArgumentException("caption_pattern must have a named group 'subject'");
        }
        return new ModelCard(text(json, "id"), text(json, "description"), text(json, "caption_grammar"), pattern,
                new LinkedHashSet<>(strings(json, "subjects")), new LinkedHashSet<>(strings(json, "vocabulary")),
                text(json, "draws_well"), strings(json, "example_prompts"));
    }

    /** The card as {@link #fromJson} reads it (lists sorted, so that the text is stable). */
    public ObjectNode toJson() {
        ObjectNode json = JSON.createObjectNode();
        json.put("id", id);
        json.put("description", description);
        json.put("caption_grammar", captionGrammar);
        json.put("caption_pattern", captionPattern == null ? null : captionPattern.pattern());
        json.put("draws_well", drawsWell);
        examplePrompts.forEach(json.putArray("example_prompts")::add);
        ArrayNode subjectList = json.putArray("subjects");
        new TreeSet<>(subjects).forEach(subjectList::add);
        ArrayNode words = json.putArray("vocabulary");
        new TreeSet<>(vocabulary).forEach(words::add);
        return json;
    }

    /** Writes the card as {@link #read} reads it. */
    public void write(Path file) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson()) + "\n");
    }

    /** The words of a text as the vocabulary counts them: runs of letters and digits, lower-cased. */
    public static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        Matcher matcher = WORD.matcher(text.toLowerCase(Locale.ROOT));
        while (matcher.find()) {
            words.add(matcher.group());
        }
        return words;
    }

    /**
     * Why a prompt may not come out as intended: it is outside the caption form, names a subject
     * not seen in training, or has words the model never saw. Empty when none applies (or when the
     * card gives no form and no vocabulary). The prompt still runs; these are shown to the user.
     */
    public List<String> promptWarnings(String prompt) {
        List<String> warnings = new ArrayList<>();
        String plain = EMPHASIS.matcher(prompt).replaceAll("").strip().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
        SortedSet<String> unknown = new TreeSet<>();
        if (!vocabulary.isEmpty()) {
            for (String word : words(plain)) {
                if (!vocabulary.contains(word)) {
                    unknown.add(word);
                }
            }
        }
        if (!unknown.isEmpty()) {
            List<String> named = unknown.stream().limit(MAX_NAMED_WORDS).map(w -> "'" + w + "'").toList();
            warnings.add(id + " does not know the word" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", named)
                    + (unknown.size() > MAX_NAMED_WORDS ? " and " + (unknown.size() - MAX_NAMED_WORDS) + " more" : "")
                    + ": they will have little or no effect");
        }
        if (captionPattern != null) {
            Matcher caption = captionPattern.matcher(plain);
            if (!caption.matches()) {
                warnings.add(id + " was trained only on captions of the form '" + captionGrammar
                        + "'; other prompts come out as noise or blobs");
            } else if (!subjects.isEmpty() && !subjects.contains(caption.group("subject"))) {
                warnings.add(id + " never saw '" + caption.group("subject") + "' in training; expect noise or a blob");
            }
        }
        return warnings;
    }

    private static String text(JsonNode json, String field) {
        JsonNode node = json.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw new IllegalArgumentException(field + " must be a string");
        }
        return node.asText();
    }

    private static List<String> strings(JsonNode json, String field) {
        JsonNode node = json.get(field);
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException(field + " must be a list of strings");
        }
        List<String> values = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isTextual()) {
                throw new IllegalArgumentException(field + " must be a list of strings, got " + item);
            }
            values.add(item.asText());
        }
        return values;
    }
}
