package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.diffusion.pipeline.PngText;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.Main;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PngInfoCommandTest {

    /** An infotext as A1111 writes it: a multi-line prompt, a quoted value holding ': ' and ', ', a UTF-8 prompt. */
    static final String A1111 = "a cat, (masterpiece:1.2)\nin the snow ❄\nNegative prompt: blurry, lowres\n"
            + "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567, Size: 512x768, Model hash: 6ce0161689, "
            + "Model: v1-5-pruned-emaonly, Lora hashes: \"add_detail: 7c6bad76eb54, film: 0123456789ab\", Version: v1.7.0";

    @TempDir
    Path temp;

    record Run(int exit, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private Path png(String name, String parameters) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "png", bytes);
        byte[] png = bytes.toByteArray();
        if (parameters != null) {
            png = PngText.withText(png, "parameters", parameters);
        }
        Path file = temp.resolve(name);
        Files.write(file, png);
        return file;
    }

    @Test
    void readsAnA1111PngAsTextAndJson() throws Exception {
        Path file = png("a1111.png", A1111);
        Run text = run("png-info", file.toString());
        assertEquals(0, text.exit(), text.err());
        assertEquals(file + ":\n" + A1111 + "\n", text.out().replace("\r\n", "\n"));

        Run json = run("png-info", "--json", file.toString());
        assertEquals(0, json.exit(), json.err());
        List<String> lines = json.out().lines().toList();
        assertEquals(1, lines.size(), json.out());
        JsonNode node = new ObjectMapper().readTree(lines.get(0));
        assertEquals(file.toString(), node.get("file").asText());
        assertEquals("a cat, (masterpiece:1.2)\nin the snow ❄", node.get("prompt").asText());
        assertEquals("blurry, lowres", node.get("negative_prompt").asText());
        JsonNode params = node.get("parameters");
        assertEquals("28", params.get("Steps").asText());
        assertEquals("DPM++ 2M Karras", params.get("Sampler").asText());
        assertEquals("512x768", params.get("Size").asText());
        assertEquals("add_detail: 7c6bad76eb54, film: 0123456789ab", params.get("Lora hashes").asText());
        assertEquals("v1.7.0", params.get("Version").asText());
        assertEquals(List.of("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model", "Lora hashes", "Version"),
                iterate(params));
    }

    private static List<String> iterate(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void readsTheParametersDaguerreWroteAndNamesEveryBadFile() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path out = temp.resolve("out");
        assertEquals(0, run("generate", "--model", model.toString(), "--prompt", "a red fox", "--negative-prompt", "fog",
                "--steps", "2", "--seed", "77", "--out", out.toString()).exit());
        Path generated;
        try (Stream<Path> files = Files.list(out)) {
            generated = files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow();
        }
        Path plain = png("plain.png", null);
        Path notPng = Files.writeString(temp.resolve("notes.png"), "hello");
        Path missing = temp.resolve("missing.png");

        Run json = run("png-info", "--json", plain.toString(), generated.toString(), notPng.toString(), missing.toString());
        assertEquals(1, json.exit(), "a file without parameters fails the run");
        List<String> lines = json.out().lines().toList();
        assertEquals(1, lines.size(), "the good file is still printed: " + json.out());
        JsonNode node = new ObjectMapper().readTree(lines.get(0));
        assertEquals(generated.toString(), node.get("file").asText());
        assertEquals("a red fox", node.get("prompt").asText());
        assertEquals("fog", node.get("negative_prompt").asText());
        assertEquals("77", node.get("parameters").get("Seed").asText());
        assertEquals("2", node.get("parameters").get("Steps").asText());
        assertEquals("tiny", node.get("parameters").get("Model").asText());
        List<String> errors = json.err().lines().toList();
        assertEquals(List.of("error: " + plain + ": no generation parameters (no 'parameters' text chunk)",
                "error: " + notPng + ": not a PNG or JPEG file", "error: " + missing + ": no such file"), errors);

        Run text = run("png-info", generated.toString());
        assertEquals(0, text.exit());
        String raw = PngText.read(Files.readAllBytes(generated)).get("parameters");
        assertEquals(generated + ":\n" + raw + "\n", text.out().replace("\r\n", "\n"));
        assertTrue(raw.contains("Seed: 77"), raw);
    }
}
