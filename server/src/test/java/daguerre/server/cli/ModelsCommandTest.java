package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.cli.PngInfoCommandTest.Run;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelsCommandTest {

    @TempDir
    Path temp;

    /** What loading the model (weights and all) says: the oracle for what {@code models} finds without loading. */
    private static StableDiffusionModel load(Path model) throws Exception {
        return StableDiffusionModel.load(model, null, new ModelHasher());
    }

    @Test
    void listsAFolderOfModelsWithFamilySizeAndHashAsLoadingWould() throws Exception {
        Path folder = Files.createDirectories(temp.resolve("models"));
        Path tiny = TinyModelFolder.create(folder, "tiny");
        Path sdxl = Files.createSymbolicLink(folder.resolve("xl"),
                daguerre.weights.Golden.caseDir("pipeline_tiny_xl").resolve("pipeline").toAbsolutePath());
        Files.writeString(folder.resolve("notes.txt"), "not a model");
        Files.createDirectories(folder.resolve("empty-folder"));
        Path broken = Files.writeString(folder.resolve("broken.safetensors"), "not safetensors");

        Run json = PngInfoCommandTest.run("models", "--model", folder.toString(), "--json");
        assertEquals(1, json.exit(), "a broken model fails the run: " + json.err());
        List<String> errors = json.err().lines().toList();
        assertEquals(1, errors.size(), json.err());
        assertTrue(errors.get(0).startsWith("error: " + broken + ": "), errors.get(0));
        List<JsonNode> listed = json.out().lines().map(ModelsCommandTest::parse).toList();
        assertEquals(2, listed.size(), json.out());

        JsonNode first = listed.get(0);
        try (StableDiffusionModel loaded = load(tiny)) {
            assertEquals("tiny", first.get("id").asText());
            assertEquals("sd", first.get("family").asText());
            assertEquals(loaded.defaultImageSize(), first.get("width").asInt());
            assertEquals(loaded.defaultImageSize(), first.get("height").asInt());
            assertEquals(loaded.hash(), first.get("hash").asText());
            assertEquals("diffusers", first.get("format").asText());
            assertEquals("epsilon", first.get("prediction_type").asText());
            assertEquals(tiny.toString(), first.get("path").asText());
        }
        JsonNode second = listed.get(1);
        try (StableDiffusionModel loaded = load(sdxl)) {
            assertTrue(loaded.isSdxl());
            assertEquals("xl", second.get("id").asText());
            assertEquals("sdxl", second.get("family").asText());
            assertEquals(loaded.defaultImageSize(), second.get("width").asInt());
            assertEquals(loaded.hash(), second.get("hash").asText());
        }

        Run text = PngInfoCommandTest.run("models", "--model", tiny.toString(), "--model", sdxl.toString());
        assertEquals(0, text.exit(), text.err());
        List<String> lines = text.out().lines().toList();
        assertEquals(2, lines.size(), text.out());
        String size = first.get("width").asInt() + "x" + first.get("height").asInt();
        assertEquals("tiny  sd  " + size + "  " + first.get("hash").asText() + "  " + tiny, lines.get(0));
        assertTrue(lines.get(1).startsWith("xl  sdxl  " + second.get("width").asInt() + "x"), lines.get(1));

        Run missing = PngInfoCommandTest.run("models", "--model", temp.resolve("nowhere").toString());
        assertEquals(1, missing.exit());
        assertEquals("error: " + temp.resolve("nowhere") + ": no such model file or folder", missing.err().strip());
        Run none = PngInfoCommandTest.run("models", "--model", folder.resolve("empty-folder").toString());
        assertEquals(1, none.exit());
        assertTrue(none.err().contains("no models"), none.err());
    }

    @Test
    void defaultsToTheShippedModel() throws Exception {
        Path shipped = DefaultModel.locate().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(shipped != null, "this checkout ships no default model");
        Run json = PngInfoCommandTest.run("models", "--json");
        assertEquals(0, json.exit(), json.err());
        JsonNode node = parse(json.out().strip());
        assertEquals(shipped.toString(), node.get("path").asText());
        assertEquals(new ModelHasher().shortHash(shipped.resolve("unet/diffusion_pytorch_model.safetensors")),
                node.get("hash").asText());
    }

    private static JsonNode parse(String line) {
        try {
            return new ObjectMapper().readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }
}
