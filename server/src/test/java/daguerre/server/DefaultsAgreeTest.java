package daguerre.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import daguerre.server.cli.GenerateCommand;
import daguerre.server.jobs.GenerationRequests;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The CLI's {@code generate}, the native API and the web UI's form start from the same guidance, steps and sampler. */
class DefaultsAgreeTest {

    @Test
    void guidanceStepsAndSamplerAreTheSameEverywhere() throws IOException {
        CommandLine.Model.CommandSpec cli = new CommandLine(new GenerateCommand()).getCommandSpec();
        String page = webPage();
        assertEquals(GenerationRequests.DEFAULT_GUIDANCE_SCALE, Double.parseDouble(cli.findOption("--guidance").defaultValue()));
        assertEquals(GenerationRequests.DEFAULT_GUIDANCE_SCALE, Double.parseDouble(inputValue(page, "guidance_scale")));
        assertEquals(GenerationRequests.DEFAULT_STEPS, Integer.parseInt(cli.findOption("--steps").defaultValue()));
        assertEquals(GenerationRequests.DEFAULT_STEPS, Integer.parseInt(inputValue(page, "steps")));
        assertEquals(GenerationRequests.DEFAULT_SAMPLER, cli.findOption("--sampler").defaultValue());
    }

    private static String webPage() throws IOException {
        try (InputStream in = DefaultsAgreeTest.class.getClassLoader().getResourceAsStream("webroot/index.html")) {
            assertNotNull(in, "webroot/index.html is not on the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String inputValue(String page, String id) {
        Matcher input = Pattern.compile("<input id=\"" + id + "\"[^>]*?\\svalue=\"([^\"]*)\"", Pattern.DOTALL).matcher(page);
        if (!input.find()) {
            throw new AssertionError("no <input id=\"" + id + "\" value=...> in index.html");
        }
        return input.group(1);
    }
}
