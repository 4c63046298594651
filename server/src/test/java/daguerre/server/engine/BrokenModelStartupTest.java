package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.Main;
import daguerre.weights.model.ModelHasher;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A broken model folder stops the server at startup with one clear line naming the file and the field. */
class BrokenModelStartupTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    private Path brokenScalingFactor() throws IOException {
        Path model = TinyModelFolder.create(temp, "broken");
        Path config = model.resolve("vae/config.json");
        ObjectNode json = (ObjectNode) JSON.readTree(config.toFile());
        json.put("scaling_factor", 0);
        JSON.writeValue(config.toFile(), json);
        return model;
    }

    @Test
    void theEngineRefusesTheFolderNamingFileAndField() throws IOException {
        Path model = brokenScalingFactor();
        IOException e = assertThrows(IOException.class, () -> PipelineEngine.load(List.of(model), new ModelHasher(), 1).close());
        assertTrue(e.getMessage().contains(model.resolve("vae/config.json") + ": vae config: scaling_factor = 0.0"), e.getMessage());
    }

    @Test
    void serveExitsWithOneErrorLineAndNoStackTrace() throws IOException {
        Path model = brokenScalingFactor();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute("serve", "--model", model.toString(), "--data", temp.resolve("data").toString(), "--port", "0");
        String text = err.toString();
        assertEquals(1, exit, text);
        assertTrue(text.startsWith("error: " + model.resolve("vae/config.json") + ": vae config: scaling_factor = 0.0"), text);
        assertFalse(text.contains("\tat "), "no stack trace: " + text);
    }
}
