package daguerre.diffusion.train.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The held-out evaluation split of the emoji recipe: a fixed function of the catalogue (it does
 * not depend on the training seed, so every model trained on the same data is evaluated on the
 * same split). Decisions are made per base emoji and apply to both styles and to all of the
 * emoji's skin-tone variants.
 *
 * <ol>
 *   <li><b>Whole emoji</b>: round(3% of all base emoji) are never seen in training, in any
 *       colour. They are the {@link #ALWAYS_HELD_OUT} emoji (simple, single-coloured shapes
 *       that make evaluation easy to read), then the eligible base emoji with the smallest
 *       {@code hash("whole:" + unified)}. The object-colour emoji ({@code {colour}
 *       heart|circle|square}, see {@link #isObjectColourName}) are never held out whole.</li>
 *   <li><b>(emoji, colour) pairs</b>: of the remaining base emoji, the half (rounded down) with
 *       the smallest {@code hash("colour:" + unified)} each lose one background colour: the
 *       i-th of them in hash order loses palette colour i mod 10, so every colour is held out
 *       equally often. That is 5% of the remaining (emoji, colour) pairs; each emoji keeps at
 *       least 9 training colours.</li>
 * </ol>
 *
 * <p>{@code hash} is 64-bit FNV-1a of the UTF-8 text followed by the SplitMix64 finaliser,
 * compared as unsigned numbers; {@code unified} is emoji.json's spelling ({@code 2764-FE0F}).
 */
public final class EmojiSplit {

    /** The fraction of base emoji held out whole. */
    public static final double WHOLE_EMOJI_FRACTION = 0.03;
    /** The fraction of the other base emoji that each lose one background colour. */
    public static final double COLOUR_PAIR_EMOJI_FRACTION = 0.5;
    /** Simple emoji always among the wholly held-out ones (when the data has them). */
    public static final List<String> ALWAYS_HELD_OUT = List.of("star", "red apple", "banana", "droplet", "four leaf clover");

    private static final Pattern OBJECT_COLOUR_NAME = Pattern.compile(
            "(red|orange|yellow|green|blue|purple|brown|black|white) ((large|medium|small|medium small) )?(heart|circle|square)");

    private final Set<String> heldOutEmoji;
    private final Map<String, PaletteColour> heldOutColours;

    private EmojiSplit(Set<String> heldOutEmoji, Map<String, PaletteColour> heldOutColours) {
        this.heldOutEmoji = Collections.unmodifiableSet(heldOutEmoji);
        this.heldOutColours = Collections.unmodifiableMap(heldOutColours);
    }

    /** The split of a catalogue. */
    public static EmojiSplit of(EmojiCatalogue catalogue) {
        Map<String, String> nameByBase = new LinkedHashMap<>();
        for (EmojiStyle style : EmojiStyle.values()) {
            catalogue.groups(style).forEach((base, group) -> nameByBase.putIfAbsent(base, group.defaultImage().name()));
        }
        int wholeCount = (int) Math.round(WHOLE_EMOJI_FRACTION * nameByBase.size());

        Set<String> whole = new LinkedHashSet<>();
        for (String name : ALWAYS_HELD_OUT) {
            nameByBase.forEach((base, baseName) -> {
                if (baseName.equals(name) && whole.size() < wholeCount) {
                    whole.add(base);
                }
            });
        }
        List<String> eligible = new ArrayList<>();
        nameByBase.forEach((base, name) -> {
            if (!whole.contains(base) && !isObjectColourName(name)) {
                eligible.add(base);
            }
        });
        eligible.sort(byHash("whole:"));
        for (int i = 0; whole.size() < wholeCount && i < eligible.size(); i++) {
            whole.add(eligible.get(i));
        }

        List<String> remaining = new ArrayList<>();
        for (String base : nameByBase.keySet()) {
            if (!whole.contains(base)) {
                remaining.add(base);
            }
        }
        remaining.sort(byHash("colour:"));
        int pairCount = (int) Math.floor(COLOUR_PAIR_EMOJI_FRACTION * remaining.size());
        PaletteColour[] palette = PaletteColour.values();
        Map<String, PaletteColour> colours = new LinkedHashMap<>();
        for (int i = 0; i < pairCount; i++) {
            colours.put(remaining.get(i), palette[i % palette.length]);
        }
        return new EmojiSplit(whole, colours);
    }

    private static Comparator<String> byHash(String salt) {
        return (first, second) -> Long.compareUnsigned(SplitMix64.hash(salt + first), SplitMix64.hash(salt + second));
    }

    /**
     * Whether a caption name is one of the object-colour emoji of the evaluation:
     * {@code {red|orange|yellow|green|blue|purple|brown|black|white} [large|medium|small|medium
     * small] heart|circle|square}.
     */
    public static boolean isObjectColourName(String name) {
        return OBJECT_COLOUR_NAME.matcher(name).matches();
    }

    /** The base emoji (unified code points) never seen in training. */
    public Set<String> heldOutEmoji() {
        return heldOutEmoji;
    }

    /** The held-out background colour of each base emoji that has one. */
    public Map<String, PaletteColour> heldOutColours() {
        return heldOutColours;
    }

    /** Whether a base emoji is held out whole. */
    public boolean isHeldOut(String baseUnified) {
        return heldOutEmoji.contains(baseUnified);
    }

    /** The background colour a base emoji is never trained on, if any. */
    public Optional<PaletteColour> heldOutColour(String baseUnified) {
        return Optional.ofNullable(heldOutColours.get(baseUnified));
    }

    /** The colours a base emoji is trained on: none when it is held out whole. */
    public List<PaletteColour> trainingColours(String baseUnified) {
        if (isHeldOut(baseUnified)) {
            return List.of();
        }
        PaletteColour heldOut = heldOutColours.get(baseUnified);
        List<PaletteColour> colours = new ArrayList<>();
        for (PaletteColour colour : PaletteColour.values()) {
            if (colour != heldOut) {
                colours.add(colour);
            }
        }
        return colours;
    }

    /** Whether the training data may show this base emoji on this background. */
    public boolean isTrainingPair(String baseUnified, PaletteColour background) {
        return !isHeldOut(baseUnified) && heldOutColours.get(baseUnified) != background;
    }
}
