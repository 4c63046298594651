package daguerre.server.testing;

import daguerre.weights.model.ModelCard;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** A model card in the default model's form, small enough to read in a test. */
public final class TestModelCards {

    /** The card's caption form. */
    public static final String GRAMMAR = "{emoji name}, {twemoji|noto} style, on a {blue|purple} background";
    /** What the card says its model was trained on. */
    public static final List<String> SUBJECTS = List.of("red heart", "yellow heart");
    /** The card's example prompts. */
    public static final List<String> EXAMPLES = List.of("red heart, twemoji style, on a blue background",
            "yellow heart, noto style, on a purple background");

    private TestModelCards() {}

    /** The card, with id {@code id}. */
    public static ModelCard emoji(String id) {
        Set<String> vocabulary = new LinkedHashSet<>();
        EXAMPLES.forEach(example -> vocabulary.addAll(ModelCard.words(example)));
        vocabulary.addAll(ModelCard.words("red yellow heart twemoji noto style on a blue purple background"));
        return new ModelCard(id, "a tiny test model with a card", GRAMMAR,
                Pattern.compile("(?<subject>.+), (twemoji|noto) style, on a (blue|purple) background"),
                new LinkedHashSet<>(SUBJECTS), vocabulary, "hearts", EXAMPLES);
    }

    /** Writes {@link #emoji} into a model folder, and returns the folder. */
    public static Path writeInto(Path modelFolder, String id) {
        try {
            emoji(id).write(modelFolder.resolve(ModelCard.FILE_NAME));
            return modelFolder;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
