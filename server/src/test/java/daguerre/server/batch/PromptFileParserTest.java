package daguerre.server.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.jobs.RequestException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A1111 "prompts from file" lines, JSON Lines and plain prompts, with per-line errors. */
class PromptFileParserTest {

    private final PromptFileParser parser = new PromptFileParser(name -> name.equals("Euler a") ? "euler_a" : name);

    @Test
    void parsesEveryLineFormatAndNumbersLines() {
        String file = String.join("\n",
                "a plain prompt, with commas",
                "",
                "--prompt \"a \\\"quoted\\\" cat\" --negative_prompt 'blurry, dark' --steps 30 --cfg_scale 7.5 --seed 42 "
                        + "--width 512 --height 384 --sampler_name \"Euler a\" --batch_size 2 --n_iter 3 --sd_model tiny",
                "{\"prompt\": \"json line\", \"steps\": 4}",
                "   ");
        List<PromptFileParser.Line> lines = parser.parse(file);
        assertEquals(3, lines.size());
        assertEquals(1, lines.get(0).line());
        assertEquals("a plain prompt, with commas", lines.get(0).request().get("prompt").asText());

        PromptFileParser.Line a1111 = lines.get(1);
        assertEquals(3, a1111.line());
        assertNull(a1111.error());
        assertEquals("a \"quoted\" cat", a1111.request().get("prompt").asText());
        assertEquals("blurry, dark", a1111.request().get("negative_prompt").asText());
        assertEquals(30, a1111.request().get("steps").asInt());
        assertEquals(7.5, a1111.request().get("guidance_scale").asDouble());
        assertEquals(42, a1111.request().get("seed").asLong());
        assertEquals(384, a1111.request().get("height").asInt());
        assertEquals("euler_a", a1111.request().get("sampler").asText());
        assertEquals(6, a1111.request().get("n").asInt());
        assertEquals("tiny", a1111.request().get("model").asText());

        assertEquals(4, lines.get(2).line());
        assertEquals(4, lines.get(2).request().get("steps").asInt());
    }

    @Test
    void cacheIntervalIsAnIntegerOptionOfA1111LinesAndAFieldOfJsonLines() {
        List<PromptFileParser.Line> lines = parser.parse(String.join("\n",
                "--prompt cat --steps 10 --cache_interval 3",
                "{\"prompt\": \"dog\", \"cache_interval\": 2}",
                "--prompt cow --cache_interval often"));
        assertEquals(3, lines.get(0).request().get("cache_interval").asInt());
        assertEquals(2, lines.get(1).request().get("cache_interval").asInt());
        assertEquals("cache_interval", lines.get(2).error().field());
        assertEquals("invalid_type", lines.get(2).error().code());
    }

    @Test
    void badLinesGetErrorsAndTheOthersStillParse() {
        List<PromptFileParser.Line> lines = parser.parse(String.join("\r\n",
                "--prompt cat --steps many",
                "{\"prompt\": ",
                "--prompt dog --upscale 2",
                "--prompt \"unterminated",
                "--steps 3",
                "[1, 2]",
                "--prompt ok"));
        assertEquals(7, lines.size());
        assertError(lines.get(0), 1, "invalid_type", "steps");
        assertError(lines.get(1), 2, "invalid_json", null);
        assertError(lines.get(2), 3, "unknown_field", "upscale");
        assertError(lines.get(3), 4, "invalid_line", null);
        assertError(lines.get(4), 5, "missing_field", "prompt");
        assertEquals(6, lines.get(5).line());
        assertEquals("[1, 2]", lines.get(5).request().get("prompt").asText(), "a line that is not an object is a plain prompt");
        assertNull(lines.get(6).error());
    }

    @Test
    void tokenizerFollowsShellQuoting() {
        assertEquals(List.of("--prompt", "a b", "--x", "it's", "c\\d"), PromptFileParser.tokenize("--prompt 'a b' --x \"it's\" c\\\\d"));
        assertThrows(RequestException.class, () -> PromptFileParser.tokenize("--prompt 'open"));
    }

    private static void assertError(PromptFileParser.Line line, int number, String code, String field) {
        assertEquals(number, line.line());
        assertNull(line.request());
        assertEquals(code, line.error().code(), line.error().getMessage());
        assertEquals(field, line.error().field());
    }

    @Test
    void readingStopsAtTheLineAfterTheLimit() throws Exception {
        String fits = "one\n\n  \ntwo\nthree\n";
        assertEquals(fits, PromptFileParser.read(new java.io.StringReader(fits), 3), "blank lines do not count");
        PromptFileParser.checkLineCount(fits, 3);

        // an endless file: reading must stop by itself once line 4 is there
        long[] served = {0};
        java.io.Reader endless = new java.io.Reader() {
            @Override
            public int read(char[] buffer, int offset, int length) {
                for (int i = 0; i < length; i++) {
                    buffer[offset + i] = served[0]++ % 2 == 0 ? 'x' : '\n';
                }
                return length;
            }

            @Override
            public void close() {}
        };
        RequestException refused = assertThrows(RequestException.class, () -> PromptFileParser.read(endless, 3));
        assertEquals(413, refused.status());
        assertEquals("too_many_lines", refused.code());
        assertTrue(refused.getMessage().contains("more than 3 prompt lines (--max-batch-lines)"), refused.getMessage());
        assertTrue(served[0] <= 8192 + 8, "read no further than one buffer past the limit: " + served[0]);
        assertEquals("too_many_lines", assertThrows(RequestException.class,
                () -> PromptFileParser.checkLineCount(fits + "four", 3)).code());
    }
}
