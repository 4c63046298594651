package daguerre.diffusion.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
