package daguerre.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.Main;
import daguerre.server.testing.TestModelCards;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {

    @TempDir
    Path temp;

    @Test
    void warnsOnStderrAboutWordsTheModelDoesNotKnowAndStillWrites() throws Exception {
        Path model = TestModelCards.writeInto(TinyModelFolder.create(temp, "tiny"), "carded");
        String stranger = generate(model, "a rocket ship");
        assertTrue(stranger.contains("loaded carded"), stranger);
        assertTrue(stranger.contains("warning: carded does not know the words 'rocket', 'ship'"), stranger);
        assertTrue(stranger.contains("warning: carded was trained only on captions of the form '" + TestModelCards.GRAMMAR), stranger);
        String known = generate(model, TestModelCards.EXAMPLES.get(0));
        assertFalse(known.contains("warning:"), known);
        Path reference = Files.createFile(temp.resolve("reference"));
        try (Stream<Path> files = Files.list(temp.resolve("out"))) {
            List<Path> pngs = files.filter(f -> f.toString().endsWith(".png")).toList();
            assertEquals(2, pngs.size());
            for (Path png : pngs) {
                assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(png),
                        "generate's images get the mode of any new file, as batch's and the gallery's do");
            }
        }
    }

    @Test
    void generatesWithAnSdxlModel() throws Exception {
        Path sdxl = daguerre.weights.Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        Path out = temp.resolve("xl");
        int exit = Main.commandLine().execute("generate", "--model", sdxl.toString(), "--prompt", "a photo of an astronaut",
                "--steps", "4", "--width", "32", "--height", "32", "--seed", "2", "--out", out.toString());
        assertEquals(0, exit);
        try (Stream<Path> files = Files.list(out)) {
            List<Path> pngs = files.filter(f -> f.toString().endsWith(".png")).toList();
            assertEquals(1, pngs.size());
            java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(pngs.get(0).toFile());
            assertEquals(32, image.getWidth());
            assertEquals(32, image.getHeight());
        }
    }

    @Test
    void hiresFixAndMaskOptionsReachThePipeline() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path hires = temp.resolve("hires");
        int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "2",
                "--seed", "3", "--width", "32", "--height", "32", "--hires-scale", "2", "--hires-upscaler", "Nearest",
                "--hires-steps", "2", "--hires-strength", "0.5", "--out", hires.toString());
        assertEquals(0, exit);
        Path big = single(hires);
        java.awt.image.BufferedImage upscaled = javax.imageio.ImageIO.read(big.toFile());
        assertEquals(64, upscaled.getWidth());
        String infotext = daguerre.diffusion.pipeline.PngText.read(Files.readAllBytes(big)).get("parameters");
        assertTrue(infotext.contains("Hires upscale: 2, Hires steps: 2, Hires upscaler: Nearest"), infotext);

        // inpainting: a mask whose left half is white repaints only there
        java.awt.image.BufferedImage init = new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.image.BufferedImage mask = new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                init.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | 0x40);
                mask.setRGB(x, y, x < 8 ? 0xffffff : 0);
            }
        }
        Path initFile = temp.resolve("init.png");
        Path maskFile = temp.resolve("mask.png");
        javax.imageio.ImageIO.write(init, "png", initFile.toFile());
        javax.imageio.ImageIO.write(mask, "png", maskFile.toFile());
        Path inpainted = temp.resolve("inpainted");
        exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "2", "--seed", "3",
                "--width", "32", "--height", "32", "--init-image", initFile.toString(), "--strength", "1", "--mask", maskFile.toString(),
                "--mask-blur", "0", "--inpaint-fill", "latent_noise", "--out", inpainted.toString());
        assertEquals(0, exit);
        java.awt.image.BufferedImage result = javax.imageio.ImageIO.read(single(inpainted).toFile());
        for (int y = 0; y < 32; y++) {
            for (int x = 16; x < 32; x++) {
                assertEquals(init.getRGB(x, y), result.getRGB(x, y), "kept outside the mask at " + x + "," + y);
            }
        }
        String text = daguerre.diffusion.pipeline.PngText.read(Files.readAllBytes(single(inpainted))).get("parameters");
        assertTrue(text.contains("Masked content: latent noise"), text);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        assertTrue(cli.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--mask", maskFile.toString(),
                "--out", inpainted.toString()) != 0, "a mask without an init image is refused");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--init-image"), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * {@code --n-iter 2 --batch 2 --json}: four images, seeds continuing across batches as A1111
     * numbers them, each its own file number (after the folder's highest), one JSON object each whose
     * infotext is the file's; the second batch is the one its first seed gives alone.
     */
    @Test
    void nIterContinuesTheSeedsAndJsonDescribesEveryImage() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path out = Files.createDirectories(temp.resolve("iter"));
        Files.writeString(out.resolve("00007-older.png"), "an older image");
        java.io.StringWriter stdout = new java.io.StringWriter();
        picocli.CommandLine cli = Main.commandLine();
        cli.setOut(new java.io.PrintWriter(stdout, true));
        int exit = cli.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "2", "--seed", "10",
                "--batch", "2", "--n-iter", "2", "--json", "--out", out.toString());
        assertEquals(0, exit);
        List<String> lines = stdout.toString().lines().toList();
        assertEquals(4, lines.size(), stdout.toString());
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (int i = 0; i < 4; i++) {
            com.fasterxml.jackson.databind.JsonNode node = json.readTree(lines.get(i));
            assertEquals(10 + i, node.get("seed").asLong(), lines.get(i));
            Path file = Path.of(node.get("file").asText());
            assertEquals(out.resolve(String.format("%05d-%d.png", 8 + i, 10 + i)), file);
            String infotext = daguerre.diffusion.pipeline.PngText.read(Files.readAllBytes(file)).get("parameters");
            assertEquals(infotext, node.get("infotext").asText());
            assertTrue(infotext.contains("Seed: " + (10 + i)), infotext);
        }
        // the second batch is the batch that --seed 12 --batch 2 makes alone (the same shape: bit for bit)
        Path alone = temp.resolve("alone");
        assertEquals(0, Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "2",
                "--seed", "12", "--batch", "2", "--out", alone.toString()));
        for (int i = 0; i < 2; i++) {
            java.awt.image.BufferedImage expected = javax.imageio.ImageIO.read(
                    alone.resolve(String.format("%05d-%d.png", i, 12 + i)).toFile());
            java.awt.image.BufferedImage actual = javax.imageio.ImageIO.read(
                    out.resolve(String.format("%05d-%d.png", 10 + i, 12 + i)).toFile());
            for (int y = 0; y < expected.getHeight(); y++) {
                for (int x = 0; x < expected.getWidth(); x++) {
                    assertEquals(expected.getRGB(x, y), actual.getRGB(x, y), "seed " + (12 + i) + " at " + x + "," + y);
                }
            }
        }
        assertEquals(1, Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--n-iter", "0",
                "--out", out.toString()), "--n-iter 0 is refused");
    }

    /** {@code --format jpeg}: .jpg files whose EXIF UserComment is the image's infotext, which png-info reads back. */
    @Test
    void jpegFilesCarryTheInfotextThatPngInfoReads() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path out = temp.resolve("jpeg");
        java.io.StringWriter stdout = new java.io.StringWriter();
        picocli.CommandLine cli = Main.commandLine();
        cli.setOut(new java.io.PrintWriter(stdout, true));
        assertEquals(0, cli.execute("generate", "--model", model.toString(), "--prompt", "a cat, (blue:1.2)", "--steps", "2",
                "--seed", "4", "--format", "jpeg", "--quality", "90", "--json", "--out", out.toString()));
        com.fasterxml.jackson.databind.JsonNode node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(stdout.toString().strip());
        Path file = Path.of(node.get("file").asText());
        assertEquals(out.resolve("00000-4.jpg"), file);
        assertEquals(java.util.Optional.of(node.get("infotext").asText()),
                daguerre.diffusion.pipeline.JpegText.read(Files.readAllBytes(file)));
        assertTrue(javax.imageio.ImageIO.read(file.toFile()).getWidth() > 0, "not a readable JPEG");

        java.io.StringWriter info = new java.io.StringWriter();
        picocli.CommandLine pngInfo = Main.commandLine();
        pngInfo.setOut(new java.io.PrintWriter(info, true));
        assertEquals(0, pngInfo.execute("png-info", file.toString()));
        assertTrue(info.toString().contains(node.get("infotext").asText()), info.toString());
        assertEquals(1, Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--format", "webp",
                "--out", out.toString()), "--format webp is refused");
    }

    /**
     * {@code --filename-pattern}: the tokens expand, characters unsafe in file names become _, and
     * a pattern that names the images of a batch alike still gives each its own number.
     */
    @Test
    void filenamePatternNamesTheFilesAndKeepsThemNumbered() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path out = temp.resolve("named");
        java.io.StringWriter stdout = new java.io.StringWriter();
        picocli.CommandLine cli = Main.commandLine();
        cli.setOut(new java.io.PrintWriter(stdout, true));
        String before = java.time.LocalDate.now().toString();
        int exit = cli.execute("generate", "--model", model.toString(), "--prompt", "a cat: \"big\"/small?", "--steps", "1",
                "--seed", "5", "--batch", "2", "--filename-pattern", "[model_name] [prompt_words] [date] s[seed]", "--out", out.toString());
        assertEquals(0, exit);
        String after = java.time.LocalDate.now().toString();
        List<String> names;
        try (Stream<Path> files = Files.list(out)) {
            names = files.map(f -> f.getFileName().toString()).sorted().toList();
        }
        String date = names.get(0).contains(before) ? before : after;
        assertEquals(List.of("00000-tiny a cat big small " + date + " s5.png", "00001-tiny a cat big small " + date + " s6.png"), names);
        assertTrue(stdout.toString().contains(out.resolve(names.get(1)) + "  seed 6"), stdout.toString());

        exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "1", "--seed", "5",
                "--batch", "2", "--filename-pattern", "same/<name>", "--out", out.toString());
        assertEquals(0, exit);
        try (Stream<Path> files = Files.list(out)) {
            names = files.map(f -> f.getFileName().toString()).filter(n -> n.contains("same")).sorted().toList();
        }
        assertEquals(List.of("00002-same__name_.png", "00003-same__name_.png"), names);

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine refusing = Main.commandLine();
        refusing.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        assertEquals(1, refusing.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--filename-pattern", "[job]",
                "--out", out.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown token [job]"), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * {@code --prompt-file}: one job per line in {@code batch}'s syntax (plain, A1111 options, JSON), the
     * command's options the defaults of every line; with {@code --n-iter} and {@code --json} every image
     * gets its own file number across the lines and names its line. A bad line is reported by its number
     * and the others still run (exit 1).
     */
    @Test
    void promptFileRunsOneJobPerLineWithTheOptionsAsDefaults() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path file = temp.resolve("prompts.txt");
        Files.writeString(file, String.join("\n",
                "a red cat",
                "--prompt \"a blue dog\" --seed 30 --steps 1 --sampler_name \"Euler\"",
                "",
                "--prompt broken --steps many",
                "{\"prompt\": \"a json bird\", \"n\": 2, \"seed\": 40}",
                "{\"prompt\": \"a model line\", \"model\": \"other\"}"));
        Path out = temp.resolve("lines");
        java.io.StringWriter stdout = new java.io.StringWriter();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setOut(new java.io.PrintWriter(stdout, true));
        PrintStream original = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = cli.execute("generate", "--model", model.toString(), "--prompt-file", file.toString(), "--steps", "2",
                    "--seed", "10", "--n-iter", "2", "--json", "--filename-pattern", "[prompt_words] [seed]", "--out", out.toString());
        } finally {
            System.setErr(original);
        }
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, exit, "bad lines make the exit status 1: " + stderr);
        assertTrue(stderr.contains(file + ":4: steps must be an integer, got many"), stderr);
        assertTrue(stderr.contains(file + ":6: model cannot be set by a line here"), stderr);

        // line 1: the options' seed and steps, two batches; line 2: its own seed, steps and sampler; line 5: two images a batch
        List<Integer> expectedLines = List.of(1, 1, 2, 2, 5, 5, 5, 5);
        List<Long> expectedSeeds = List.of(10L, 11L, 30L, 31L, 40L, 41L, 42L, 43L);
        List<String> expectedPrompts = List.of("a red cat", "a red cat", "a blue dog", "a blue dog", "a json bird", "a json bird",
                "a json bird", "a json bird");
        List<String> printed = stdout.toString().lines().toList();
        assertEquals(8, printed.size(), stdout.toString());
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (int i = 0; i < 8; i++) {
            com.fasterxml.jackson.databind.JsonNode node = json.readTree(printed.get(i));
            assertEquals(expectedLines.get(i), node.get("line").asInt(), printed.get(i));
            assertEquals(expectedSeeds.get(i), node.get("seed").asLong(), printed.get(i));
            Path image = Path.of(node.get("file").asText());
            assertEquals(out.resolve(String.format("%05d-%s %d.png", i, expectedPrompts.get(i), expectedSeeds.get(i))), image);
            String infotext = daguerre.diffusion.pipeline.PngText.read(Files.readAllBytes(image)).get("parameters");
            assertEquals(infotext, node.get("infotext").asText());
            assertTrue(infotext.startsWith(expectedPrompts.get(i) + "\n"), infotext);
            assertTrue(infotext.contains(expectedLines.get(i) == 2 ? "Steps: 1, Sampler: Euler," : "Steps: 2, Sampler: Euler a,"), infotext);
        }

        ByteArrayOutputStream usage = new ByteArrayOutputStream();
        picocli.CommandLine both = Main.commandLine();
        both.setErr(new java.io.PrintWriter(usage, true, StandardCharsets.UTF_8));
        assertEquals(2, both.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--prompt-file", file.toString(),
                "--out", out.toString()), "--prompt and --prompt-file together are refused");
        assertTrue(usage.toString(StandardCharsets.UTF_8).contains("mutually exclusive"), usage.toString(StandardCharsets.UTF_8));
        assertEquals(1, Main.commandLine().execute("generate", "--model", model.toString(), "--prompt-file",
                temp.resolve("missing.txt").toString(), "--out", out.toString()), "a missing prompt file is refused");
    }

    private static Path single(Path folder) throws Exception {
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> pngs = files.filter(f -> f.toString().endsWith(".png")).toList();
            assertEquals(1, pngs.size(), pngs.toString());
            return pngs.get(0);
        }
    }

    @Test
    void cacheIntervalReachesTheImagesInfotextAndIsChecked() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        Path out = temp.resolve("cached");
        int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "4",
                "--seed", "3", "--cache-interval", "2", "--out", out.toString());
        assertEquals(0, exit);
        try (Stream<Path> files = Files.list(out)) {
            Path png = files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow();
            String infotext = daguerre.diffusion.pipeline.PngText.read(Files.readAllBytes(png)).get("parameters");
            assertTrue(infotext.contains("Cache interval: 2"), infotext);
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        int refused = cli.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "4",
                "--cache-interval", "5", "--out", out.toString());
        assertTrue(refused != 0, "an interval above the steps is refused");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("cache_interval"), err.toString(StandardCharsets.UTF_8));
    }

    /** {@code --vae-tiling on} and {@code off} generate; an unknown mode is refused by name. */
    @Test
    void vaeTilingIsAcceptedAndChecked() throws Exception {
        Path model = TinyModelFolder.create(temp, "tiny");
        for (String mode : new String[] {"on", "off"}) {
            int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a cat", "--steps", "2",
                    "--seed", "3", "--vae-tiling", mode, "--out", temp.resolve("tiling-" + mode).toString());
            assertEquals(0, exit, mode);
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        int refused = cli.execute("generate", "--model", model.toString(), "--prompt", "a cat", "--vae-tiling", "sometimes",
                "--out", temp.resolve("tiling-bad").toString());
        assertTrue(refused != 0, "an unknown tiling mode is refused");
        String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.contains("on, off or auto") && message.contains("sometimes"), message);
    }

    /**
     * {@code --weight-dtype f16} loads the (float32) SDXL folder with its matrices in float16: stderr
     * says so and shows half the memory, and the image changes (by the rounding of the weights)
     * against the float32 run with the same seed; an unknown type stops with an error naming the
     * known ones.
     */
    @Test
    void keepsWeightsInTheTypeAsked() throws Exception {
        Path sdxl = daguerre.weights.Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        String f32 = generateInto(sdxl, "f32", temp.resolve("f32"));
        String f16 = generateInto(sdxl, "f16", temp.resolve("f16"));
        assertTrue(f32.contains("float32 weights"), f32);
        assertTrue(f16.contains("float16 weights"), f16);
        java.awt.image.BufferedImage a = onlyImage(temp.resolve("f32"));
        java.awt.image.BufferedImage b = onlyImage(temp.resolve("f16"));
        boolean differ = false;
        for (int y = 0; y < a.getHeight() && !differ; y++) {
            for (int x = 0; x < a.getWidth() && !differ; x++) {
                differ = a.getRGB(x, y) != b.getRGB(x, y);
            }
        }
        assertTrue(differ, "float16 weights gave the float32 image bit for bit: they were not rounded");

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cli = Main.commandLine();
        cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        int exit = cli.execute("generate", "--model", sdxl.toString(), "--prompt", "x", "--weight-dtype", "f8",
                "--out", temp.resolve("bad").toString());
        assertEquals(1, exit);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown weight dtype 'f8' (known: f32, f16, bf16, stored)"),
                err.toString(StandardCharsets.UTF_8));
    }

    private String generateInto(Path model, String weightDtype, Path out) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream original = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a photo of an astronaut",
                    "--steps", "4", "--width", "32", "--height", "32", "--seed", "2", "--weight-dtype", weightDtype,
                    "--out", out.toString());
            assertEquals(0, exit, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(original);
        }
        return err.toString(StandardCharsets.UTF_8);
    }

    private static java.awt.image.BufferedImage onlyImage(Path folder) throws Exception {
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> pngs = files.filter(f -> f.toString().endsWith(".png")).toList();
            assertEquals(1, pngs.size());
            return javax.imageio.ImageIO.read(pngs.get(0).toFile());
        }
    }

    /** Runs {@code generate} and returns what it wrote to stderr. */
    private String generate(Path model, String prompt) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream original = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", prompt,
                    "--steps", "1", "--seed", "1", "--out", temp.resolve("out").toString());
            assertEquals(0, exit, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(original);
        }
        return err.toString(StandardCharsets.UTF_8);
    }
}
