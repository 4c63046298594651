package daguerre.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.JpegText;
import daguerre.diffusion.pipeline.PngText;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code png-info}: the generation parameters of PNGs written by Daguerre or A1111 (their
 * {@code parameters} tEXt or iTXt chunk), as the raw infotext or as JSON.
 */
@Command(name = "png-info", mixinStandardHelpOptions = true,
        description = "Print the generation parameters (A1111 infotext) of Daguerre's and A1111's PNGs and JPEGs.")
public final class PngInfoCommand implements Callable<Integer> {

    /** The PNG text chunk holding the infotext, as A1111 names it. */
    static final String KEY = "parameters";

    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "PNG or JPEG files.")
    List<Path> files;

    @Option(names = "--json", description = "One JSON object per file: {file, prompt, negative_prompt, parameters{...}}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int status = 0;
        boolean first = true;
        for (Path file : files) {
            String text;
            try {
                text = parameters(file);
            } catch (IOException | IllegalArgumentException e) {
                out.flush();
                err.println("error: " + file + ": " + e.getMessage());
                err.flush();
                status = 1;
                continue;
            }
            if (json) {
                Infotext info = Infotext.parse(text);
                ObjectNode node = JSON.createObjectNode();
                node.put("file", file.toString());
                node.put("prompt", info.prompt());
                node.put("negative_prompt", info.negativePrompt());
                ObjectNode params = node.putObject("parameters");
                info.parameters().forEach(params::put);
                out.println(JSON.writeValueAsString(node));
            } else {
                if (!first) {
                    out.println();
                }
                out.println(file + ":");
                out.println(text.strip());
            }
            first = false;
            out.flush();
        }
        return status;
    }

    /** The infotext of {@code file}; an exception whose message says why there is none. */
    static String parameters(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("no such file");
        }
        byte[] bytes = Files.readAllBytes(file);
        boolean jpeg = bytes.length > 2 && (bytes[0] & 0xff) == 0xff && (bytes[1] & 0xff) == 0xd8;
        String text;
        try {
            text = jpeg ? JpegText.read(bytes).orElse(null) : PngText.read(bytes).get(KEY);
        } catch (IllegalArgumentException notPng) {
            throw new IOException("not a PNG or JPEG file");
        }
        if (text == null || text.isBlank()) {
            throw new IOException(jpeg ? "no generation parameters (no EXIF UserComment)"
                    : "no generation parameters (no '" + KEY + "' text chunk)");
        }
        return text.replace("\r\n", "\n");
    }
}
