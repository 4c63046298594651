package daguerre.diffusion.train.data;

/** The two emoji art sets of the recipe, as emoji-datasource packages them. */
public enum EmojiStyle {
    /** Twemoji art (CC-BY-4.0), from {@code emoji-datasource-twitter}. */
    TWEMOJI("twitter", "twemoji"),
    /** Noto Emoji art (Apache-2.0), from {@code emoji-datasource-google}. */
    NOTO("google", "noto");

    private final String set;
    private final String label;

    EmojiStyle(String set, String label) {
        this.set = set;
        this.label = label;
    }

    /** emoji-datasource's name of the set: {@code twitter} or {@code google}. */
    public String set() {
        return set;
    }

    /** The word used in captions: {@code twemoji} or {@code noto}. */
    public String label() {
        return label;
    }

    /** The package folder under the data root: {@code emoji-datasource-twitter}, ... */
    public String packageFolder() {
        return "emoji-datasource-" + set;
    }

    /** emoji.json's flag that this set has an image: {@code has_img_twitter}, ... */
    String hasImageField() {
        return "has_img_" + set;
    }
}
