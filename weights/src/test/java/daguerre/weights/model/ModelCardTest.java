package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCardTest {

    private static final ModelCard CARD = new ModelCard("shapes-8", "shapes", "{shape} on {colour}",
            Pattern.compile("(?<subject>[a-z ]+) on (red|blue)"), Set.of("circle", "big square"),
            Set.of("circle", "big", "square", "on", "red", "blue"), "circles", List.of("circle on red"));

    @Test
    void writesAndReadsBack(@TempDir Path folder) throws IOException {
        CARD.write(folder.resolve(ModelCard.FILE_NAME));
        ModelCard read = ModelCard.find(folder).orElseThrow();
        assertEquals(CARD.id(), read.id());
        assertEquals(CARD.captionPattern().pattern(), read.captionPattern().pattern());
        assertEquals(CARD.subjects(), read.subjects());
        assertEquals(CARD.vocabulary(), read.vocabulary());
        assertEquals(CARD.examplePrompts(), read.examplePrompts());
        assertEquals(Optional.empty(), ModelCard.find(folder.resolve("missing")));
    }

    @Test
    void warnsAboutUnknownWordsTheFormAndUnseenSubjects() {
        assertEquals(List.of(), CARD.promptWarnings("circle on red"));
        assertEquals(List.of(), CARD.promptWarnings("(Big Square:1.3) on [blue]"), "emphasis and case are ignored");
        List<String> words = CARD.promptWarnings("triangle on green");
        assertEquals(2, words.size(), words.toString());
        assertEquals("shapes-8 does not know the words 'green', 'triangle': they will have little or no effect", words.get(0));
        assertTrue(words.get(1).contains("'{shape} on {colour}'"), words.get(1));
        List<String> unseen = CARD.promptWarnings("big circle on blue");
        assertEquals(List.of("shapes-8 never saw 'big circle' in training; expect noise or a blob"), unseen);
    }

    @Test
    void namesAtMostTenUnknownWords() {
        String warning = CARD.promptWarnings("a b c d e f g h i j k l").get(0);
        assertTrue(warning.contains("'j' and 2 more"), warning);
    }

    @Test
    void aCardWithoutFormOrVocabularyNeverWarns() {
        ModelCard free = new ModelCard("free", "", "", null, Set.of(), Set.of(), "", List.of());
        assertEquals(List.of(), free.promptWarnings("anything at all"));
    }

    @Test
    void badCardsNameTheFileAndField(@TempDir Path folder) throws IOException {
        Path file = folder.resolve(ModelCard.FILE_NAME);
        Files.writeString(file, "{\"id\": \"x\", \"vocabulary\": \"red\"}");
        IOException notAList = assertThrows(IOException.class, () -> ModelCard.read(file));
        assertTrue(notAList.getMessage().contains(file.toString()) && notAList.getMessage().contains("vocabulary"), notAList.getMessage());
        Files.writeString(file, "{\"id\": \"bad id!\"}");
        IOException badId = assertThrows(IOException.class, () -> ModelCard.read(file));
        assertTrue(badId.getMessage().contains("id must be"), badId.getMessage());
        Files.writeString(file, "{\"id\": \"x\", \"caption_pattern\": \"(unclosed\"}");
        assertTrue(assertThrows(IOException.class, () -> ModelCard.read(file)).getMessage().contains("caption_pattern"));
        Files.writeString(file, "{\"id\": \"x\", \"caption_pattern\": \"no group\"}");
        assertTrue(assertThrows(IOException.class, () -> ModelCard.read(file)).getMessage().contains("subject"));
        Files.writeString(file, "[1");
        assertTrue(assertThrows(IOException.class, () -> ModelCard.read(file)).getMessage().contains("not valid JSON"));
    }
}
