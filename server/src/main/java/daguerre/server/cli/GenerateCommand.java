package daguerre.server.cli;

import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.lora.LoraTags;
import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.JpegText;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.HiresFix;
import daguerre.diffusion.pipeline.InpaintOptions;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.batch.PromptFileParser;
import daguerre.server.files.AtomicFiles;
import daguerre.server.jobs.RequestException;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code generate}: text-to-image or image-to-image from the command line, PNGs into a folder. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate images from a prompt and write them as PNGs with their parameters embedded.")
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "PATH",
            description = "A diffusers model folder or a single-file .safetensors checkpoint (SD 1.x/2.x or SDXL); default: Daguerre's own model.")
    Path model;

    @Option(names = "--prediction-type", paramLabel = "TYPE",
            description = "epsilon or v_prediction (default: from the model, its sidecar .yaml, else epsilon).")
    String predictionType;

    /** What to generate: one prompt, or a prompt file of one job per line. */
    static final class PromptSource {
        @Option(names = "--prompt", required = true, description = "The prompt (A1111 emphasis syntax supported).")
        String prompt;

        @Option(names = "--prompt-file", required = true, paramLabel = "FILE",
                description = "One job per line, as `batch` reads them: A1111's \"prompts from file\" options, a JSON object or a plain"
                        + " prompt; the other options are the defaults of every line.")
        Path file;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource source;

    @Option(names = "--negative-prompt", defaultValue = "", description = "What to steer away from.")
    String negativePrompt;

    @Option(names = "--sampler", defaultValue = "euler_a",
            description = "ddpm, ddim, pndm, lms, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lcm (or A1111 names). Default: ${DEFAULT-VALUE}.")
    String sampler;

    @Option(names = "--steps", defaultValue = "20", description = "Denoising steps. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = {"--guidance", "--cfg-scale"}, defaultValue = "" + GenerationRequest.DEFAULT_GUIDANCE_SCALE,
            description = "Classifier-free guidance scale (<= 1: no guidance pass). Default: ${DEFAULT-VALUE}.")
    double guidance;

    @Option(names = "--guidance-rescale", defaultValue = "0", description = "Guidance rescale phi in [0, 1]. Default: 0.")
    double guidanceRescale;

    @Option(names = "--clip-skip", defaultValue = "1", description = "A1111 clip skip (1 = last layer). Default: 1.")
    int clipSkip;

    @Option(names = "--eta", defaultValue = "0", description = "DDIM eta in [0, 1]. Default: 0.")
    double eta;

    @Option(names = "--cache-interval", defaultValue = "1", paramLabel = "N",
            description = "Step caching (DeepCache): a full U-Net pass every N steps, only its shallow blocks between; 1 (the default) is off.")
    int cacheInterval;

    @Option(names = "--seed", defaultValue = "-1", description = "Seed of the first image; image i uses seed + i. -1: random.")
    long seed;

    @Option(names = "--width", defaultValue = "0", description = "Width in pixels, a multiple of 8 (default: the model's).")
    int width;

    @Option(names = "--height", defaultValue = "0", description = "Height in pixels, a multiple of 8 (default: the model's).")
    int height;

    @Option(names = "--batch", defaultValue = "1", description = "Images per batch (generated together). Default: 1.")
    int batch;

    @Option(names = "--n-iter", defaultValue = "1", paramLabel = "N",
            description = "Batches run one after another (A1111's batch count); image i of batch k gets seed + k * --batch + i. Default: 1.")
    int nIter;

    @Option(names = "--filename-pattern", defaultValue = FilenamePattern.DEFAULT, paramLabel = "PATTERN",
            description = "A1111-style file names NNNNN-PATTERN.png: [seed], [prompt_words], [date], [model_name], [model_hash],"
                    + " [steps], [cfg], [sampler], [width], [height]; unsafe characters become _. Default: ${DEFAULT-VALUE}.")
    String filenamePattern;

    @Option(names = "--format", defaultValue = "png", paramLabel = "png|jpeg",
            description = "Image format: png (parameters in its text chunk) or jpeg (in its EXIF UserComment, as A1111 saves them). Default: png.")
    String format;

    @Option(names = "--quality", defaultValue = "80", paramLabel = "1-100",
            description = "JPEG quality, as A1111's jpeg_quality. Default: ${DEFAULT-VALUE}.")
    int quality;

    @Option(names = "--json", description = "Print one JSON object per image on stdout, {file, seed, infotext}, instead of a text line.")
    boolean json;

    @Option(names = "--init-image", paramLabel = "FILE", description = "Image-to-image: the source image (PNG, JPEG).")
    Path initImage;

    @Option(names = "--strength", defaultValue = "0.75", description = "Image-to-image denoising strength in (0, 1]. Default: ${DEFAULT-VALUE}.")
    double strength;

    @Option(names = "--mask", paramLabel = "FILE",
            description = "Inpainting (needs --init-image): white repaints, black keeps (or the alpha of a mask with transparency);"
                    + " resized to the init image's size.")
    Path mask;

    @Option(names = "--mask-blur", defaultValue = "" + InpaintOptions.DEFAULT_MASK_BLUR, paramLabel = "PX",
            description = "Gaussian blur of the mask, 0-64 px. Default: ${DEFAULT-VALUE}.")
    int maskBlur;

    @Option(names = "--mask-invert", description = "Repaint the black part of the mask instead.")
    boolean maskInvert;

    @Option(names = "--inpaint-fill", defaultValue = "original", paramLabel = "MODE",
            description = "What the masked area starts from: fill, original, latent_noise or latent_nothing. Default: ${DEFAULT-VALUE}.")
    String inpaintFill;

    @Option(names = "--inpaint-full-res", description = "\"Only masked\": generate the padded box around the mask at the request's size, then paste it back.")
    boolean inpaintFullRes;

    @Option(names = "--inpaint-padding", defaultValue = "" + InpaintOptions.DEFAULT_PADDING, paramLabel = "PX",
            description = "Padding around the mask's box for --inpaint-full-res, 0-256 px. Default: ${DEFAULT-VALUE}.")
    int inpaintPadding;

    @Option(names = "--hires-scale", paramLabel = "X",
            description = "Hires fix: generate at the size, upscale by X (1-8), then refine at the larger size.")
    Double hiresScale;

    @Option(names = "--hires-width", defaultValue = "0", paramLabel = "PX",
            description = "Hires fix to this width instead of a scale (0 with --hires-height: in proportion).")
    int hiresWidth;

    @Option(names = "--hires-height", defaultValue = "0", paramLabel = "PX",
            description = "Hires fix to this height instead of a scale (0 with --hires-width: in proportion).")
    int hiresHeight;

    @Option(names = "--hires-upscaler", defaultValue = "Latent", paramLabel = "NAME",
            description = "Hires upscaler: Latent, Latent (antialiased), Latent (bicubic), Latent (bicubic antialiased), Latent (nearest),"
                    + " Latent (nearest-exact), None, Lanczos or Nearest. Default: ${DEFAULT-VALUE}.")
    String hiresUpscaler;

    @Option(names = "--hires-steps", defaultValue = "0", paramLabel = "N",
            description = "Steps of the hires pass (0: the same as --steps). Default: 0.")
    int hiresSteps;

    @Option(names = "--hires-strength", defaultValue = "" + HiresFix.DEFAULT_DENOISING_STRENGTH, paramLabel = "S",
            description = "Denoising strength of the hires pass, in (0, 1]. Default: ${DEFAULT-VALUE}.")
    double hiresStrength;

    @Option(names = "--hires-sampler", paramLabel = "NAME", description = "Sampler of the hires pass (default: --sampler).")
    String hiresSampler;

    @Option(names = "--hires-prompt", defaultValue = "", paramLabel = "TEXT", description = "Prompt of the hires pass (default: --prompt).")
    String hiresPrompt;

    @Option(names = "--hires-negative-prompt", defaultValue = "", paramLabel = "TEXT",
            description = "Negative prompt of the hires pass (default: --negative-prompt).")
    String hiresNegativePrompt;

    @Option(names = "--weight-dtype", paramLabel = "TYPE", defaultValue = "stored",
            description = "Keep weights in f32, f16 or bf16. Default: as the checkpoint stores them.")
    String weightDtype;

    @Option(names = "--compute-dtype", paramLabel = "TYPE", defaultValue = "auto",
            description = "Matrix products in f32 or bf16, or auto: bf16 with 16-bit weights on a CPU with native bf16"
                    + " (avx512_bf16, AMX), else f32. Default: ${DEFAULT-VALUE}.")
    String computeDtype;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created if missing).")
    Path out;

    @Option(names = "--lora", paramLabel = "NAME[:WEIGHT]",
            description = "Run a LoRA (repeatable): a name in --lora-dir or a .safetensors path, weight 1 unless given; "
                    + "the same as <lora:NAME:WEIGHT> in the prompt.")
    List<String> loras = List.of();

    @Option(names = "--lora-dir", defaultValue = "data/loras", paramLabel = "DIR",
            description = "The LoRA folder that names in --lora and <lora:NAME:W> are looked up in. Default: ${DEFAULT-VALUE} (serve's default).")
    Path loraDir;

    @Option(names = "--embeddings-dir", defaultValue = "data/embeddings", paramLabel = "DIR",
            description = "The textual-inversion embeddings folder: a file's name is its trigger word. Default: ${DEFAULT-VALUE} (serve's default).")
    Path embeddingsDir;

    @Option(names = "--vae-tiling", defaultValue = "auto", paramLabel = "MODE",
            description = "VAE decode and encode in overlapping tiles: on, off or auto (tiles above 1024x1024 px). Default: ${DEFAULT-VALUE}.")
    String vaeTiling;

    /** The inpainting options, or null without {@code --mask}. */
    private InpaintOptions inpaint(BufferedImage init) throws IOException {
        if (mask == null) {
            return null;
        }
        if (init == null) {
            throw new IllegalArgumentException("--mask needs --init-image: the image to inpaint");
        }
        BufferedImage image = readImage(mask);
        if (image.getWidth() != init.getWidth() || image.getHeight() != init.getHeight()) {
            BufferedImage resized = new BufferedImage(init.getWidth(), init.getHeight(),
                    image.getColorModel().hasAlpha() ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
            java.awt.Graphics2D g = resized.createGraphics();
            g.setRenderingHint(java.awt.RenderingHints.KEY_INTERPOLATION, java.awt.RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(image, 0, 0, init.getWidth(), init.getHeight(), null);
            g.dispose();
            image = resized;
        }
        List<String> fills = List.of("fill", "original", "latent_noise", "latent_nothing");
        int fill = fills.indexOf(inpaintFill.replace(' ', '_'));
        if (fill < 0) {
            throw new IllegalArgumentException("--inpaint-fill must be one of " + String.join(", ", fills) + ", got " + inpaintFill);
        }
        return new InpaintOptions(image, maskBlur, maskInvert, InpaintOptions.Fill.fromA1111Index(fill), inpaintFullRes, inpaintPadding);
    }

    /** The hires fix, or null when no --hires-scale, --hires-width or --hires-height is given. */
    private HiresFix hiresFix() {
        if (hiresScale == null && hiresWidth == 0 && hiresHeight == 0) {
            return null;
        }
        return new HiresFix(hiresScale == null ? 2 : hiresScale, hiresWidth, hiresHeight, hiresUpscaler, hiresSteps, hiresStrength,
                hiresSampler == null ? null : Sampler.fromName(hiresSampler), hiresPrompt, hiresNegativePrompt);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /**
     * One job: the request of {@code --prompt}, or of one line of {@code --prompt-file}.
     *
     * @param line the prompt file's line number, or null for {@code --prompt}
     */
    private record Job(Integer line, GenerationRequest request) {
        String label(int iteration, int iterations) {
            String batchLabel = "batch " + (iteration + 1) + "/" + iterations;
            if (line == null) {
                return iterations == 1 ? "generating" : batchLabel;
            }
            return "line " + line + (iterations == 1 ? "" : ", " + batchLabel);
        }
    }

    /** The fields a prompt file's line may set here; the rest of a request comes from the options. */
    private static final List<String> LINE_FIELDS = List.of("prompt", "negative_prompt", "sampler", "steps", "guidance_scale",
            "guidance_rescale", "clip_skip", "eta", "cache_interval", "seed", "width", "height", "n");

    @Override
    public Integer call() throws Exception {
        if (nIter < 1) {
            throw new IllegalArgumentException("--n-iter must be at least 1, got " + nIter);
        }
        FilenamePattern names = FilenamePattern.parse(filenamePattern);
        boolean jpeg = switch (format.toLowerCase(java.util.Locale.ROOT)) {
            case "png" -> false;
            case "jpeg", "jpg" -> true;
            default -> throw new IllegalArgumentException("--format takes png or jpeg, got " + format);
        };
        if (quality < 1 || quality > 100) {
            throw new IllegalArgumentException("--quality must be between 1 and 100, got " + quality);
        }
        WeightPrecision precision = WeightPrecision.parse(weightDtype);
        ComputePrecision compute = ComputePrecision.parse(computeDtype);
        BufferedImage init = initImage == null ? null : readImage(initImage);
        List<Job> jobs = new java.util.ArrayList<>();
        int badLines = 0;
        if (source.file == null) {
            jobs.add(new Job(null, request(source.prompt, seed, init).build()));
        } else {
            for (PromptFileParser.Line line : new PromptFileParser(java.util.function.UnaryOperator.identity()).parse(readPromptFile())) {
                try {
                    jobs.add(new Job(line.line(), lineRequest(line, init)));
                } catch (IllegalArgumentException | RequestException e) {
                    System.err.printf("%s:%d: %s%n", source.file, line.line(), e.getMessage());
                    badLines++;
                }
            }
            if (jobs.isEmpty()) {
                throw new IllegalArgumentException(source.file + " has no line to generate" + (badLines > 0 ? " (all are bad)" : ""));
            }
        }
        VaeTiling tiling = VaeTiling.of(VaeTiling.Mode.named(vaeTiling));
        Files.createDirectories(out);

        long loadStart = System.nanoTime();
        Path modelPath = model != null ? model : DefaultModel.locate().orElseThrow(() -> new IllegalArgumentException(
                "this build ships no default model: pass --model PATH"));
        ModelHasher hasher = new ModelHasher();
        int failedLines = 0;
        try (StableDiffusionModel loaded = StableDiffusionModel.load(modelPath, predictionType, hasher, precision)) {
            ComputePrecision products = loaded.useComputePrecision(compute);
            System.err.printf("loaded %s (hash %s, %s weights, %.2f GiB, %s products) in %.1f s%n", loaded.id(), loaded.hash(),
                    loaded.weightDtype(), loaded.weightBytes() / (double) (1L << 30), products.dtypeName(), seconds(loadStart));
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(loaded, tiling, new LoraLibrary(loraDir, 0, hasher),
                    new TextualInversionLibrary(embeddingsDir, hasher));
            java.io.PrintWriter stdout = spec.commandLine().getOut();
            int number = nextNumber(out);
            for (Job job : jobs) {
                String prompt = job.request().prompt();
                loaded.card().ifPresent(card -> card.promptWarnings(prompt).forEach(w -> System.err.println(
                        (job.line() == null ? "" : source.file + ":" + job.line() + ": ") + "warning: " + w)));
                for (int iteration = 0; iteration < nIter; iteration++) {
                    ProgressBar bar = new ProgressBar(System.err, job.label(iteration, nIter));
                    long start = System.nanoTime();
                    GenerationRequest iterationRequest = iteration == 0 ? job.request()
                            : job.request().toBuilder().seed(job.request().seed() + (long) iteration * job.request().batchSize()).build();
                    List<GeneratedImage> images;
                    try {
                        images = pipeline.generate(iterationRequest, (step, total, preview) -> bar.update(step, total), () -> false);
                    } catch (IllegalArgumentException e) {
                        if (job.line() == null) {
                            throw e;
                        }
                        // a line the pipeline refuses (an unknown LoRA, a size the model cannot take): the other lines still run
                        System.err.printf("%n%s:%d: %s%n", source.file, job.line(), e.getMessage());
                        failedLines++;
                        break;
                    }
                    System.err.printf("generated %d image(s) in %.1f s%n", images.size(), seconds(start));
                    for (GeneratedImage image : images) {
                        Path file = write(image, number, names.expand(values(image, prompt, loaded)), jpeg);
                        number = numberOf(file) + 1;
                        if (json) {
                            com.fasterxml.jackson.databind.node.ObjectNode line = JSON.createObjectNode().put("file", file.toString())
                                    .put("seed", image.seed()).put("infotext", image.infotext().format());
                            if (job.line() != null) {
                                line.put("line", job.line());
                            }
                            stdout.println(JSON.writeValueAsString(line));
                        } else {
                            stdout.println(file + "  seed " + image.seed());
                        }
                        stdout.flush();
                    }
                }
            }
        }
        if (badLines + failedLines > 0) {
            System.err.printf("%s: %d of %d lines were bad or failed%n", source.file, badLines + failedLines, jobs.size() + badLines);
            return 1;
        }
        return 0;
    }

    /** The request of the options, for {@code prompt}; a seed of -1 becomes a random one. */
    private GenerationRequest.Builder request(String prompt, long requestedSeed, BufferedImage init) throws IOException {
        long firstSeed = requestedSeed == -1 ? new SecureRandom().nextLong() & 0xffffffffL : requestedSeed;
        return GenerationRequest.builder(prompt)
                .negativePrompt(negativePrompt).sampler(Sampler.fromName(sampler)).steps(steps)
                .guidanceScale(guidance).guidanceRescale(guidanceRescale).clipSkip(clipSkip).eta(eta).cacheInterval(cacheInterval)
                .seed(firstSeed).size(width, height).batchSize(batch)
                .initImage(init, strength)
                .loras(loras.stream().map(GenerateCommand::lora).toList())
                .inpaint(inpaint(init))
                .hiresFix(hiresFix());
    }

    /** The request of a prompt file's line: the options, with what the line sets instead ({@code n} is the images per batch). */
    private GenerationRequest lineRequest(PromptFileParser.Line line, BufferedImage init) throws IOException {
        if (line.error() != null) {
            throw line.error();
        }
        com.fasterxml.jackson.databind.node.ObjectNode fields = line.request();
        for (java.util.Iterator<String> it = fields.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!LINE_FIELDS.contains(field)) {
                throw new IllegalArgumentException(field + " cannot be set by a line here (generate runs one --model and takes the"
                        + " rest from its options; a line may set " + String.join(", ", LINE_FIELDS) + "); `daguerre batch` takes every field");
            }
        }
        com.fasterxml.jackson.databind.JsonNode prompt = fields.get("prompt");
        if (prompt == null || !prompt.isTextual()) {
            throw new IllegalArgumentException("the line needs a prompt (text)");
        }
        GenerationRequest.Builder request = request(prompt.asText(), integer(fields, "seed", seed), init)
                .size((int) integer(fields, "width", width), (int) integer(fields, "height", height))
                .steps((int) integer(fields, "steps", steps))
                .guidanceScale(number(fields, "guidance_scale", guidance))
                .guidanceRescale(number(fields, "guidance_rescale", guidanceRescale))
                .clipSkip((int) integer(fields, "clip_skip", clipSkip))
                .eta(number(fields, "eta", eta))
                .cacheInterval((int) integer(fields, "cache_interval", cacheInterval))
                .batchSize((int) integer(fields, "n", batch));
        if (fields.has("negative_prompt")) {
            request.negativePrompt(text(fields, "negative_prompt"));
        }
        if (fields.has("sampler")) {
            request.sampler(Sampler.fromName(text(fields, "sampler")));
        }
        return request.build();
    }

    private static long integer(com.fasterxml.jackson.databind.node.ObjectNode fields, String name, long fallback) {
        com.fasterxml.jackson.databind.JsonNode value = fields.get(name);
        if (value == null) {
            return fallback;
        }
        boolean fits = name.equals("seed") ? value.canConvertToLong() : value.canConvertToInt();
        if (!value.isIntegralNumber() || !fits) {
            throw new IllegalArgumentException(name + " must be a whole number, got " + value);
        }
        return value.asLong();
    }

    private static double number(com.fasterxml.jackson.databind.node.ObjectNode fields, String name, double fallback) {
        com.fasterxml.jackson.databind.JsonNode value = fields.get(name);
        if (value == null) {
            return fallback;
        }
        if (!value.isNumber()) {
            throw new IllegalArgumentException(name + " must be a number, got " + value);
        }
        return value.asDouble();
    }

    private static String text(com.fasterxml.jackson.databind.node.ObjectNode fields, String name) {
        com.fasterxml.jackson.databind.JsonNode value = fields.get(name);
        if (!value.isTextual()) {
            throw new IllegalArgumentException(name + " must be text, got " + value);
        }
        return value.asText();
    }

    /** The prompt file's text; a clear error when it is missing or not UTF-8. */
    private String readPromptFile() throws IOException {
        try {
            return Files.readString(source.file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("--prompt-file " + source.file + ": no such file");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("--prompt-file " + source.file + " is not UTF-8 text");
        }
    }

    /** {@code NAME[:WEIGHT]}: the part after the last ':' is the weight when it is a number (so a path may hold ':'). */
    static RequestedLora lora(String option) {
        int colon = option.lastIndexOf(':');
        if (colon > 0) {
            try {
                return RequestedLora.of(option.substring(0, colon), Double.parseDouble(option.substring(colon + 1)));
            } catch (NumberFormatException notAWeight) {
                // the whole option is the name
            }
        }
        return RequestedLora.of(option, LoraTags.DEFAULT_WEIGHT);
    }

    private static BufferedImage readImage(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("image not found: " + file);
        }
        BufferedImage image = ImageIO.read(file.toFile());
        if (image == null) {
            throw new IOException(file + " is not an image this program can read (use PNG or JPEG)");
        }
        return image;
    }

    /** The values of {@code --filename-pattern}'s tokens for {@code image}. */
    private static java.util.Map<String, String> values(GeneratedImage image, String prompt, StableDiffusionModel loaded) {
        java.util.Map<String, String> parameters = image.infotext().parameters();
        return FilenamePattern.values(image.seed(), prompt, loaded.id(), loaded.hash(), parameters.getOrDefault("Steps", ""),
                parameters.getOrDefault("CFG scale", ""), parameters.getOrDefault("Sampler", ""),
                image.image().getWidth(), image.image().getHeight());
    }

    /**
     * Writes atomically (temp file + rename) as NNNNN-NAME.png or .jpg (NNNNN.png for an empty name),
     * NNNNN the first number from {@code number} on that no file in the folder starts with, so that every
     * image gets its own.
     */
    private Path write(GeneratedImage image, int number, String name, boolean jpeg) throws IOException {
        byte[] bytes = jpeg ? JpegText.write(image.image(), image.infotext().format(), quality) : image.png();
        for (int index = number; ; index++) {
            Path target = out.resolve(String.format("%05d", index) + (name.isEmpty() ? "" : "-" + name) + (jpeg ? ".jpg" : ".png"));
            if (numberTaken(index)) {
                continue;
            }
            AtomicFiles.write(target, bytes);
            return target;
        }
    }

    private static final java.util.regex.Pattern NUMBERED = java.util.regex.Pattern.compile("^(\\d{5,9})(?:[-.].*)?$");

    /** One more than the highest NNNNN- prefix of a file in {@code folder} (A1111's counter), 0 for none. */
    static int nextNumber(Path folder) throws IOException {
        int next = 0;
        try (java.util.stream.Stream<Path> files = Files.list(folder)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                java.util.regex.Matcher m = NUMBERED.matcher(file.getFileName().toString());
                if (m.matches()) {
                    next = Math.max(next, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        return next;
    }

    private boolean numberTaken(int index) throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(out)) {
            return files.anyMatch(f -> {
                java.util.regex.Matcher m = NUMBERED.matcher(f.getFileName().toString());
                return m.matches() && Integer.parseInt(m.group(1)) == index;
            });
        }
    }

    private static int numberOf(Path file) {
        java.util.regex.Matcher m = NUMBERED.matcher(file.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalStateException("not a numbered file: " + file);
        }
        return Integer.parseInt(m.group(1));
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }
}
