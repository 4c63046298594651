package daguerre.diffusion.train.data;

import daguerre.weights.model.ModelCard;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The {@link ModelCard} of a model trained on the emoji recipe: its caption form, and the emoji
 * names and words of its training split (held-out emoji are not among the subjects, so a prompt
 * for one is warned about). Written into the default model's folder by
 * {@code java -cp daguerre.jar daguerre.diffusion.train.data.EmojiModelCard DATA_ROOT MODEL_FOLDER}.
 */
public final class EmojiModelCard {

    /** The default model's id. */
    public static final String ID = "daguerre-emoji-64";

    private EmojiModelCard() {}

    /** The card of a model trained on {@code dataset}'s training split. */
    public static ModelCard of(EmojiDataset dataset) {
        Set<String> subjects = new LinkedHashSet<>();
        for (EmojiSample sample : dataset.train().samples(0)) {
            subjects.add(sample.image().name());
        }
        Set<String> vocabulary = new LinkedHashSet<>();
        for (String caption : dataset.train().captions()) {
            vocabulary.addAll(ModelCard.words(caption));
        }
        String styles = Arrays.stream(EmojiStyle.values()).map(EmojiStyle::label).collect(Collectors.joining("|"));
        String colours = Arrays.stream(PaletteColour.values()).map(PaletteColour::label).collect(Collectors.joining("|"));
        Pattern caption = Pattern.compile("(?<subject>.+), (" + styles + ") style, on a (" + colours + ") background");
        return new ModelCard(ID,
                "Daguerre's own 64x64 emoji model (13.8 M parameters, trained from scratch on Twemoji and Noto Emoji)",
                "{emoji name}, {" + styles + "} style, on a {" + colours + "} background",
                caption, subjects, vocabulary,
                "solid backgrounds of its ten colours, and the coloured hearts, circles and squares (red heart, "
                        + "blue circle, green square, ...); detailed emoji (rocket, pizza, faces) come out as blobs "
                        + "of roughly the right colours",
                List.of("red heart, twemoji style, on a blue background",
                        "yellow heart, twemoji style, on a purple background",
                        "green circle, noto style, on a white background",
                        "blue square, noto style, on a orange background",
                        "purple heart, noto style, on a yellow background"));
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: EmojiModelCard DATA_ROOT MODEL_FOLDER");
            System.exit(2);
        }
        EmojiDataset dataset = EmojiDataset.load(Path.of(args[0]), EmojiCatalogue.NATIVE_SIZE, 0);
        ModelCard card = of(dataset);
        card.write(Path.of(args[1]).resolve(ModelCard.FILE_NAME));
        System.out.println(card.id() + ": " + card.subjects().size() + " subjects, " + card.vocabulary().size() + " words");
    }
}
