package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.text.ClipTextConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped recipe is consistent, and bad recipes fail naming the field. */
class TrainConfigTest {

    /** The recipe in the source tree (tests run in the module folder). */
    private static final Path SHIPPED = Path.of("..", "weights", "default", "train-config.json");
    /** The shipped fine-tune that follows it. */
    private static final Path SHIPPED_FINETUNE = Path.of("..", "weights", "default", "finetune-config.json");

    @TempDir
    Path temp;

    @Test
    void shippedRecipeFitsTogether() throws IOException {
        TrainConfig recipe = TrainConfig.load(SHIPPED);
        assertEquals(TrainConfig.DataSource.Kind.EMOJI, recipe.data().kind());
        assertEquals(SHIPPED.toAbsolutePath().getParent().resolve("data"), recipe.data().path());
        assertEquals(64, recipe.imageSize());
        int factor = recipe.vae().model().downsamplingFactor();
        assertEquals(4, factor);
        assertEquals(recipe.imageSize() / factor, recipe.unet().sampleSize());
        assertEquals(recipe.vae().model().latentChannels(), recipe.unet().inChannels());
        ClipTextConfig text = recipe.textEncoderConfig(4103);
        assertEquals(text.hiddenSize(), recipe.unet().crossAttentionDim());
        assertEquals(77, text.maxPositionEmbeddings());
        assertEquals(4101, text.bosTokenId());
        assertEquals(4102, text.eosTokenId());
        assertTrue(recipe.diffusion().emptyCaptionRate() > 0);
    }

    @Test
    void missingAndMistypedFieldsAreNamed() throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(SHIPPED.toFile());
        json.remove("data");
        Path noData = temp.resolve("no-data.json");
        Files.writeString(noData, json.toString());
        IOException missing = assertThrows(IOException.class, () -> TrainConfig.load(noData));
        assertTrue(missing.getMessage().contains("'data'"), missing.getMessage());

        json.putObject("data").put("folder", "images");
        ((ObjectNode) json.get("vae")).put("steps", "many");
        Path badSteps = temp.resolve("bad-steps.json");
        Files.writeString(badSteps, json.toString());
        IOException mistyped = assertThrows(IOException.class, () -> TrainConfig.load(badSteps));
        assertTrue(mistyped.getMessage().contains("'steps'"), mistyped.getMessage());
    }

    @Test
    void shippedFineTuneStartsFromTheBaseRecipesExportAndWritesTheShippedModel() throws IOException {
        TrainConfig base = TrainConfig.load(SHIPPED);
        TrainConfig fineTune = TrainConfig.load(SHIPPED_FINETUNE);
        assertEquals(base.exportDir(), fineTune.init().orElseThrow());
        assertEquals(SHIPPED.toAbsolutePath().getParent().resolve("model"), fineTune.exportDir());
        assertNotEquals(base.runDir(), fineTune.runDir());
        assertEquals(base.data().path(), fineTune.data().path());
        assertTrue(fineTune.data().objectColourRepeats() > 1);
        assertEquals(1, base.data().objectColourRepeats());
        assertEquals(base.imageSize(), fineTune.imageSize());
        assertNull(fineTune.unet(), "the architecture comes from the init model");
    }

    @Test
    void aFineTuneRecipeRejectsArchitectureSectionsAndAnExportOverItsInit() throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(SHIPPED_FINETUNE.toFile());
        json.putObject("unet");
        Path withUnet = temp.resolve("with-unet.json");
        Files.writeString(withUnet, json.toString());
        IOException architecture = assertThrows(IOException.class, () -> TrainConfig.load(withUnet));
        assertTrue(architecture.getMessage().contains("'unet' comes from the 'init' model"), architecture.getMessage());

        json.remove("unet");
        json.put("export_dir", json.get("init").asText());
        Path overInit = temp.resolve("over-init.json");
        Files.writeString(overInit, json.toString());
        IOException replaced = assertThrows(IOException.class, () -> TrainConfig.load(overInit));
        assertTrue(replaced.getMessage().contains("'export_dir' must differ from 'init'"), replaced.getMessage());
    }

    @Test
    void objectColourRepeatsArePositiveAndForTheEmojiRecipeOnly() throws IOException {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(SHIPPED.toFile());
        ((ObjectNode) json.get("data")).put("object_colour_repeats", 0);
        Path zero = temp.resolve("zero.json");
        Files.writeString(zero, json.toString());
        IOException notPositive = assertThrows(IOException.class, () -> TrainConfig.load(zero));
        assertTrue(notPositive.getMessage().contains("'object_colour_repeats' must be an integer of at least 1"),
                notPositive.getMessage());

        json.putObject("data").put("folder", "images").put("object_colour_repeats", 4);
        Path folder = temp.resolve("folder.json");
        Files.writeString(folder, json.toString());
        IOException emojiOnly = assertThrows(IOException.class, () -> TrainConfig.load(folder));
        assertTrue(emojiOnly.getMessage().contains("emoji recipe only"), emojiOnly.getMessage());

        ((ObjectNode) json.get("data")).remove("folder");
        ((ObjectNode) json.get("data")).put("emoji", "data");
        Path emoji = temp.resolve("emoji.json");
        Files.writeString(emoji, json.toString());
        assertEquals(4, TrainConfig.load(emoji).data().objectColourRepeats());
    }
}
