package daguerre.diffusion.train.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * A small fake data root with the real packages' layout and schema: emoji-datasource's
 * {@code emoji.json} (both sets) with 64x64 RGBA PNGs under {@code img/<set>/64}, and
 * iconify's {@code chars.json}. 100 base emoji: the object-colour hearts, circles and squares,
 * a star, two emoji with skin-tone variants (one with two-tone keys), a flag, a skin-tone
 * component without an iconify name, an emoji missing from the Noto set, and numbered fillers.
 *
 * <p>Every image is transparent with an opaque centred square of the emoji's colour (pixels 20..43)
 * inside a one-pixel frame of alpha 128 (pixels 19 and 44).
 */
final class SyntheticEmojiData {

    static final int BASE_COUNT = 100;
    static final int SIZE = 64;
    static final int OPAQUE_FROM = 20;
    static final int OPAQUE_TO = 43;
    static final int FRAME = 19;

    /** One emoji.json entry to write. */
    record Emoji(String unified, String name, String category, String iconName, int rgb,
            Map<String, String> skinVariations, boolean inNoto) {}

    private SyntheticEmojiData() {}

    static List<Emoji> emoji() {
        List<Emoji> emoji = new ArrayList<>();
        emoji.add(plain("2764-FE0F", "HEAVY BLACK HEART", "red-heart", 0xdd2e44));
        emoji.add(plain("1F499", "BLUE HEART", "blue-heart", 0x5dadec));
        emoji.add(plain("1F535", "LARGE BLUE CIRCLE", "blue-circle", 0x55acee));
        emoji.add(plain("1F7E5", "LARGE RED SQUARE", "red-square", 0xdd2e44));
        emoji.add(plain("2B1B", "BLACK LARGE SQUARE", "black-large-square", 0x31373d));
        emoji.add(plain("25AA-FE0F", "BLACK SMALL SQUARE", "black-small-square", 0x292f33));
        emoji.add(plain("2B1C", "WHITE LARGE SQUARE", "white-large-square", 0xe6e7e8));
        emoji.add(plain("2B50", "WHITE MEDIUM STAR", "star", 0xffac33));
        Map<String, String> santa = new LinkedHashMap<>();
        String[] tones = {"light", "medium-light", "medium", "medium-dark", "dark"};
        for (int i = 0; i < tones.length; i++) {
            santa.put("1F3F" + "BCDEF".charAt(i), "santa-claus-" + tones[i] + "-skin-tone");
        }
        emoji.add(new Emoji("1F385", "FATHER CHRISTMAS", "People & Body", "santa-claus", 0xdd2e44, santa, true));
        Map<String, String> handshake = new LinkedHashMap<>();
        handshake.put("1F3FB-1F3FC", "handshake-light-skin-tone-medium-light-skin-tone");
        handshake.put("1F3FF-1F3FB", "handshake-dark-skin-tone-light-skin-tone");
        emoji.add(new Emoji("1FAF1-200D-1FAF2", "HANDSHAKE", "People & Body", "handshake", 0xffdc5d, handshake, true));
        emoji.add(new Emoji("1F1EF-1F1F5", "JAPAN FLAG", "Flags", "flag-japan", 0xbc002d, Map.of(), true));
        emoji.add(new Emoji("1F3FB", "EMOJI MODIFIER FITZPATRICK TYPE-1-2", "Component", null, 0xf7dece, Map.of(), true));
        emoji.add(new Emoji("1F600", "GRINNING FACE", "Smileys & Emotion", "grinning-face", 0xffcc4d, Map.of(), false));
        for (int i = emoji.size(); i < BASE_COUNT; i++) {
            String unified = String.format(Locale.ROOT, "F%04X", i);
            int rgb = (int) ((i * 2654435761L) & 0xffffffL);
            emoji.add(new Emoji(unified, "THING " + i, "Objects", "thing-" + i, rgb, Map.of(), true));
        }
        return emoji;
    }

    private static Emoji plain(String unified, String name, String iconName, int rgb) {
        return new Emoji(unified, name, "Symbols", iconName, rgb, Map.of(), true);
    }

    /** Writes the fake packages under {@code root} and returns it. */
    static Path write(Path root) {
        try {
            ObjectMapper json = new ObjectMapper();
            ObjectNode chars = json.createObjectNode();
            for (EmojiStyle style : EmojiStyle.values()) {
                Path images = root.resolve(style.packageFolder()).resolve("img").resolve(style.set()).resolve("64");
                Files.createDirectories(images);
                ArrayNode entries = json.createArrayNode();
                int order = 0;
                for (Emoji emoji : emoji()) {
                    boolean hasImage = style == EmojiStyle.TWEMOJI || emoji.inNoto();
                    ObjectNode entry = entries.addObject();
                    entry.put("name", emoji.name());
                    entry.put("unified", emoji.unified());
                    entry.putNull("non_qualified");
                    String image = emoji.unified().toLowerCase(Locale.ROOT) + ".png";
                    entry.put("image", image);
                    entry.put("sheet_x", order / 60);
                    entry.put("sheet_y", order % 60);
                    String shortName = emoji.name().toLowerCase(Locale.ROOT).replace(' ', '_');
                    entry.put("short_name", shortName);
                    entry.putArray("short_names").add(shortName);
                    entry.putNull("text");
                    entry.putNull("texts");
                    entry.put("category", emoji.category());
                    entry.put("subcategory", "synthetic");
                    entry.put("sort_order", order++);
                    entry.put("added_in", "1.0");
                    entry.put("has_img_apple", true);
                    entry.put("has_img_google", emoji.inNoto());
                    entry.put("has_img_twitter", true);
                    entry.put("has_img_facebook", true);
                    if (hasImage) {
                        writePng(images.resolve(image), emoji.rgb());
                    }
                    if (emoji.iconName() != null) {
                        chars.put(withoutFe0f(emoji.unified()), emoji.iconName());
                    }
                    if (!emoji.skinVariations().isEmpty()) {
                        ObjectNode skins = entry.putObject("skin_variations");
                        int tone = 0;
                        for (Map.Entry<String, String> variation : emoji.skinVariations().entrySet()) {
                            String unified = emoji.unified() + "-" + variation.getKey();
                            ObjectNode variant = skins.putObject(variation.getKey());
                            variant.put("unified", unified);
                            variant.putNull("non_qualified");
                            String variantImage = unified.toLowerCase(Locale.ROOT) + ".png";
                            variant.put("image", variantImage);
                            variant.put("sheet_x", 0);
                            variant.put("sheet_y", 0);
                            variant.put("added_in", "1.0");
                            variant.put("has_img_apple", true);
                            variant.put("has_img_google", true);
                            variant.put("has_img_twitter", true);
                            variant.put("has_img_facebook", true);
                            if (hasImage) {
                                writePng(images.resolve(variantImage), darker(emoji.rgb(), ++tone));
                            }
                            chars.put(withoutFe0f(unified), variation.getValue());
                        }
                    }
                }
                json.writeValue(root.resolve(style.packageFolder()).resolve("emoji.json").toFile(), entries);
            }
            chars.put("1f9d1-200d-1f384", "mx-claus");
            Path names = root.resolve(EmojiCatalogue.NAMES_FOLDER);
            Files.createDirectories(names);
            json.writeValue(names.resolve("chars.json").toFile(), chars);
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int darker(int rgb, int steps) {
        int r = Math.max(0, ((rgb >> 16) & 0xff) - 20 * steps);
        int g = Math.max(0, ((rgb >> 8) & 0xff) - 20 * steps);
        int b = Math.max(0, (rgb & 0xff) - 20 * steps);
        return (r << 16) | (g << 8) | b;
    }

    private static String withoutFe0f(String unified) {
        return unified.toLowerCase(Locale.ROOT).replace("-fe0f", "");
    }

    private static void writePng(Path file, int rgb) throws IOException {
        BufferedImage image = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_ARGB);
        for (int y = FRAME; y <= OPAQUE_TO + 1; y++) {
            for (int x = FRAME; x <= OPAQUE_TO + 1; x++) {
                boolean opaque = x >= OPAQUE_FROM && x <= OPAQUE_TO && y >= OPAQUE_FROM && y <= OPAQUE_TO;
                image.setRGB(x, y, (opaque ? 0xff000000 : 0x80000000) | rgb);
            }
        }
        ImageIO.write(image, "png", file.toFile());
    }
}
