package daguerre.diffusion.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Every emoji image of the recipe's data, read from the unpacked npm packages under a data root
 * (see {@code weights/default/DATA.md}):
 *
 * <pre>
 * ROOT/emoji-datasource-twitter/emoji.json, img/twitter/64/*.png
 * ROOT/emoji-datasource-google/emoji.json,  img/google/64/*.png
 * ROOT/iconify-twemoji/chars.json
 * </pre>
 *
 * <p>Each emoji.json entry is a base emoji; it has an image in a set when its
 * {@code has_img_<set>} is true, and its {@code skin_variations} (keyed by skin-tone code points)
 * are its toned variants, each with its own {@code unified}, {@code image} and
 * {@code has_img_<set>}. A variant is kept only when its base has an image in that set. Names come
 * from {@link EmojiNames} ({@code chars.json}), falling back to emoji.json's {@code name} in lower
 * case (the base's name for a variant).
 */
public final class EmojiCatalogue {

    /** The folder of the names package under the data root. */
    public static final String NAMES_FOLDER = "iconify-twemoji";
    /** The image size of emoji-datasource's {@code img/<set>/64} folders. */
    public static final int NATIVE_SIZE = 64;

    /** A base emoji in one style: its default image and its skin-tone variants (maybe none). */
    public record Group(EmojiImage defaultImage, List<EmojiImage> variants) {

        public Group {
            variants = List.copyOf(variants);
        }
    }

    private final Map<EmojiStyle, Map<String, Group>> groups;
    private final List<String> baseEmoji;

    private EmojiCatalogue(Map<EmojiStyle, Map<String, Group>> groups) {
        this.groups = groups;
        LinkedHashSet<String> bases = new LinkedHashSet<>();
        for (Map<String, Group> byBase : groups.values()) {
            bases.addAll(byBase.keySet());
        }
        this.baseEmoji = List.copyOf(bases);
    }

    /**
     * Reads both styles' emoji.json and the names, and checks that every image file exists.
     *
     * @throws DatasetException naming the file and entry at fault
     */
    public static EmojiCatalogue load(Path dataRoot) {
        EmojiNames names = EmojiNames.load(dataRoot.resolve(NAMES_FOLDER).resolve("chars.json"));
        Map<EmojiStyle, Map<String, Group>> groups = new EnumMap<>(EmojiStyle.class);
        for (EmojiStyle style : EmojiStyle.values()) {
            groups.put(style, readStyle(dataRoot.resolve(style.packageFolder()), style, names));
        }
        return new EmojiCatalogue(groups);
    }

    private static Map<String, Group> readStyle(Path packageFolder, EmojiStyle style, EmojiNames names) {
        Path emojiJson = packageFolder.resolve("emoji.json");
        if (!Files.isRegularFile(emojiJson)) {
            throw new DatasetException("emoji.json not found: " + emojiJson
                    + " (run weights/default/fetch-data.sh)");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(emojiJson.toFile());
        } catch (IOException e) {
            throw new DatasetException("cannot parse " + emojiJson + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isArray()) {
            throw new DatasetException(emojiJson + ": expected a JSON array of emoji");
        }
        Path imageFolder = packageFolder.resolve("img").resolve(style.set()).resolve(String.valueOf(NATIVE_SIZE));
        Map<String, Group> byBase = new LinkedHashMap<>();
        for (int index = 0; index < root.size(); index++) {
            JsonNode entry = root.get(index);
            String unified = text(entry, "unified", emojiJson + " entry " + index);
            String where = emojiJson + " entry " + index + " (" + unified + ")";
            if (!entry.path(style.hasImageField()).asBoolean(false)) {
                continue;
            }
            if (byBase.containsKey(unified)) {
                throw new DatasetException(where + ": duplicate unified code points");
            }
            String category = text(entry, "category", where);
            String baseName = names.lookup(unified).orElseGet(() -> fallbackName(entry, where));
            EmojiImage defaultImage = new EmojiImage(style, unified, unified, baseName, category,
                    imageFile(imageFolder, text(entry, "image", where), where), false);
            List<EmojiImage> variants = new ArrayList<>();
            JsonNode skins = entry.path("skin_variations");
            Iterator<Map.Entry<String, JsonNode>> tones = skins.isObject() ? skins.fields() : Collections.emptyIterator();
            while (tones.hasNext()) {
                Map.Entry<String, JsonNode> tone = tones.next();
                JsonNode variant = tone.getValue();
                String variantWhere = where + " skin variation " + tone.getKey();
                if (!variant.path(style.hasImageField()).asBoolean(false)) {
                    continue;
                }
                String variantUnified = text(variant, "unified", variantWhere);
                variants.add(new EmojiImage(style, unified, variantUnified,
                        names.lookup(variantUnified).orElse(baseName), category,
                        imageFile(imageFolder, text(variant, "image", variantWhere), variantWhere), true));
            }
            byBase.put(unified, new Group(defaultImage, variants));
        }
        return Collections.unmodifiableMap(byBase);
    }

    private static String fallbackName(JsonNode entry, String where) {
        JsonNode name = entry.get("name");
        if (name != null && name.isTextual() && !name.asText().isBlank()) {
            return name.asText().toLowerCase(Locale.ROOT);
        }
        throw new DatasetException(where + ": no name in chars.json and no 'name' in emoji.json");
    }

    private static Path imageFile(Path imageFolder, String image, String where) {
        Path file = imageFolder.resolve(image).normalize();
        if (!file.startsWith(imageFolder.normalize()) || !Files.isRegularFile(file)) {
            throw new DatasetException(where + ": image file not found: " + file);
        }
        return file;
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode value = node == null ? null : node.get(field);
        if (value == null || !value.isTextual()) {
            throw new DatasetException(where + ": missing or non-string field '" + field + "'");
        }
        return value.asText();
    }

    /** The base emoji's code points ({@code unified}) of either style, in emoji.json order. */
    public List<String> baseEmoji() {
        return baseEmoji;
    }

    /** The groups of one style, by base code points, in emoji.json order. */
    public Map<String, Group> groups(EmojiStyle style) {
        return groups.get(style);
    }

    /** The group of a base emoji in one style, if that style has it. */
    public Optional<Group> group(EmojiStyle style, String baseUnified) {
        return Optional.ofNullable(groups.get(style).get(baseUnified));
    }

    /** Every image of one style: each base emoji's default image, then its variants. */
    public List<EmojiImage> images(EmojiStyle style) {
        List<EmojiImage> images = new ArrayList<>();
        for (Group group : groups.get(style).values()) {
            images.add(group.defaultImage());
            images.addAll(group.variants());
        }
        return images;
    }

    /** Every image of every style, style by style. */
    public List<EmojiImage> images() {
        List<EmojiImage> images = new ArrayList<>();
        for (EmojiStyle style : EmojiStyle.values()) {
            images.addAll(images(style));
        }
        return images;
    }

    /** The default (untoned) image of one style whose caption name is {@code name}. */
    public Optional<EmojiImage> findByName(EmojiStyle style, String name) {
        for (Group group : groups.get(style).values()) {
            if (group.defaultImage().name().equals(name)) {
                return Optional.of(group.defaultImage());
            }
        }
        return Optional.empty();
    }
}
