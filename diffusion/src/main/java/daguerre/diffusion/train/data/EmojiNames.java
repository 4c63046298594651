package daguerre.diffusion.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Emoji names from {@code @iconify-json/twemoji}'s {@code chars.json}: an object whose keys are
 * code point sequences (lowercase hex joined by {@code -}, usually without the variation selector
 * {@code fe0f}) and whose values are icon names ({@code red-heart}). Names are returned with
 * hyphens replaced by spaces ({@code red heart}).
 */
public final class EmojiNames {

    private static final String VARIATION_SELECTOR = "fe0f";

    private final Map<String, String> namesBySequence;

    private EmojiNames(Map<String, String> namesBySequence) {
        this.namesBySequence = Map.copyOf(namesBySequence);
    }

    /**
     * Reads a {@code chars.json}.
     *
     * @throws DatasetException naming the file when it is missing, not JSON, not an object or
     *     has a non-string value
     */
    public static EmojiNames load(Path charsJson) {
        if (!Files.isRegularFile(charsJson)) {
            throw new DatasetException("emoji names file not found: " + charsJson);
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(charsJson.toFile());
        } catch (IOException e) {
            throw new DatasetException("cannot parse " + charsJson + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new DatasetException(charsJson + ": expected a JSON object of code points to names");
        }
        Map<String, String> names = new HashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (!field.getValue().isTextual()) {
                throw new DatasetException(charsJson + ": name of '" + field.getKey() + "' is not a string");
            }
            names.put(field.getKey().toLowerCase(Locale.ROOT), field.getValue().asText());
        }
        return new EmojiNames(names);
    }

    /** Names from an in-memory map of code point sequences to icon names (as in chars.json). */
    public static EmojiNames of(Map<String, String> namesBySequence) {
        Map<String, String> names = new HashMap<>();
        namesBySequence.forEach((key, value) -> names.put(key.toLowerCase(Locale.ROOT), value));
        return new EmojiNames(names);
    }

    /**
     * The name of a code point sequence, hyphens turned into spaces: looked up as given
     * (lowercased), then without any {@code fe0f}, then with {@code fe0f} after the first code
     * point.
     *
     * @param unified code points as emoji.json writes them, e.g. {@code 2764-FE0F}
     */
    public Optional<String> lookup(String unified) {
        String key = unified.toLowerCase(Locale.ROOT);
        String name = namesBySequence.get(key);
        if (name == null) {
            name = namesBySequence.get(withoutVariationSelector(key));
        }
        if (name == null && !key.contains(VARIATION_SELECTOR)) {
            int dash = key.indexOf('-');
            String qualified = dash < 0
                    ? key + "-" + VARIATION_SELECTOR
                    : key.substring(0, dash) + "-" + VARIATION_SELECTOR + key.substring(dash);
            name = namesBySequence.get(qualified);
        }
        return Optional.ofNullable(name).map(n -> n.replace('-', ' '));
    }

    /** The number of names. */
    public int size() {
        return namesBySequence.size();
    }

    private static String withoutVariationSelector(String key) {
        StringBuilder out = new StringBuilder();
        for (String part : key.split("-")) {
            if (!part.equals(VARIATION_SELECTOR)) {
                if (out.length() > 0) {
                    out.append('-');
                }
                out.append(part);
            }
        }
        return out.toString();
    }
}
