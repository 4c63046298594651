package daguerre.server.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.lora.RequestedLora;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.HiresFix;
import daguerre.diffusion.pipeline.InpaintOptions;
import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.diffusion.pipeline.MicroConditioning;
import daguerre.diffusion.pipeline.Upscalers;
import daguerre.diffusion.sampling.Sampler;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Validates native generation requests (the JSON of {@code POST /api/v1/generations}) into
 * {@link GenerationParams}, and stores params back as that JSON. The other API families map
 * their fields onto these names first, so every request passes the same checks.
 */
public final class GenerationRequests {

    /** Defaults of the native API. */
    public static final String DEFAULT_SAMPLER = "euler_a";
    public static final int DEFAULT_STEPS = 20;
    public static final double DEFAULT_GUIDANCE_SCALE = GenerationRequest.DEFAULT_GUIDANCE_SCALE;
    public static final double DEFAULT_STRENGTH = 0.75;

    private static final long MAX_SEED = (1L << 53) - 1;
    private static final long MAX_INIT_IMAGE_PIXELS = 64L << 20;
    /**
     * Init images are resized to the requested size, so they may be larger than the model's own
     * limit, up to 16 megapixels (a 12 MP phone photo; 64 MB decoded): beyond that and the model's
     * limit, they are refused from their header, before decoding.
     */
    private static final long INIT_IMAGE_PIXELS = 16_000_000;
    private static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "model", "sampler", "steps",
            "guidance_scale", "guidance_rescale", "clip_skip", "seed", "width", "height", "n", "init_image", "strength", "eta",
            "micro_conditioning", "negative_micro_conditioning", "cache_interval", "loras", "mask", "mask_blur", "mask_invert",
            "inpaint_fill", "inpaint_full_res", "inpaint_full_res_padding", "hires_fix");
    /** The fields of the native {@code hires_fix} object. */
    static final List<String> HIRES_FIELDS = List.of("scale", "width", "height", "upscaler", "steps", "strength", "sampler",
            "prompt", "negative_prompt");
    /** The native names of {@code inpaint_fill}, in A1111's {@code inpainting_fill} order. */
    static final List<String> FILL_NAMES = List.of("fill", "original", "latent_noise", "latent_nothing");
    /** The default hires upscaler. */
    public static final String DEFAULT_UPSCALER = "Latent";
    private static final Set<String> LORA_FIELDS = Set.of("name", "weight", "te_weight", "unet_weight");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ImageEngine engine;
    private final Limits limits;
    private final Supplier<String> defaultModel;

    /** @param defaultModel the model id used when a request names none */
    public GenerationRequests(ImageEngine engine, Limits limits, Supplier<String> defaultModel) {
        this.engine = engine;
        this.limits = limits;
        this.defaultModel = defaultModel;
    }

    /** The limits requests are checked against. */
    public Limits limits() {
        return limits;
    }

    /**
     * Validates a native request body; a seed of -1 or none becomes a random one.
     *
     * @param strict whether unknown fields are refused (the native API) or ignored
     * @throws RequestException naming the first offending field
     */
    public GenerationParams parse(JsonNode body, boolean strict) {
        if (body == null || !body.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object");
        }
        if (strict) {
            for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!FIELDS.contains(name)) {
                    throw new RequestException(400, "unknown_field", "unknown field " + name, name);
                }
            }
        }
        String prompt = string(body, "prompt", null);
        if (prompt == null) {
            throw RequestException.aboutField(400, "missing_field", "prompt", "is required");
        }
        promptLength("prompt", prompt);
        String negativePrompt = string(body, "negative_prompt", "");
        promptLength("negative_prompt", negativePrompt);
        String model = string(body, "model", null);
        if (model == null) {
            model = defaultModel.get();
        }
        String modelId = model;
        ModelDescriptor descriptor = engine.findModel(modelId)
                .orElseThrow(() -> new RequestException(404, "model_not_found", "unknown model " + modelId, "model"));
        String sampler = string(body, "sampler", DEFAULT_SAMPLER);
        if (engine.samplers().stream().noneMatch(s -> s.name().equals(sampler))) {
            throw new RequestException(400, "unknown_sampler", "unknown sampler " + sampler, "sampler");
        }
        int steps = (int) integer(body, "steps", DEFAULT_STEPS, 1, limits.maxSteps());
        double guidanceScale = number(body, "guidance_scale", DEFAULT_GUIDANCE_SCALE, 0, GenerationRequest.MAX_GUIDANCE_SCALE);
        double guidanceRescale = number(body, "guidance_rescale", 0, 0, 1);
        int clipSkip = (int) integer(body, "clip_skip", 1, 1, descriptor.textEncoderLayers());
        long seed = integer(body, "seed", -1, -1, MAX_SEED);
        if (seed == -1) {
            seed = Ids.randomSeed();
        }
        int width = (int) integer(body, "width", descriptor.defaultWidth(), GenerationRequest.MIN_SIZE, limits.maxWidth());
        int height = (int) integer(body, "height", descriptor.defaultHeight(), GenerationRequest.MIN_SIZE, limits.maxHeight());
        int n = (int) integer(body, "n", 1, 1, limits.maxBatch());
        area(descriptor, width, height);
        cost(steps, width, height, n);
        DecodedImage initImage = initImage(body, descriptor);
        double strength = number(body, "strength", DEFAULT_STRENGTH, 0, 1);
        double eta = number(body, "eta", 0, 0, 1);
        MicroConditioning micro = microConditioning(body, "micro_conditioning", descriptor, width, height);
        MicroConditioning negativeMicro = microConditioning(body, "negative_micro_conditioning", descriptor, width, height);
        // step caching: a full U-Net pass every cache_interval steps (1: every step)
        int cacheInterval = (int) integer(body, "cache_interval", 1, 1, steps);
        List<RequestedLora> loras = loras(body.get("loras"));
        DecodedImage mask = mask(body, initImage);
        GenerationParams.Inpaint inpaint = mask == null ? null : inpaint(body, mask.png());
        HiresFix hiresFix = hiresFix(body.get("hires_fix"));
        if (hiresFix != null) {
            hiresCost(descriptor, hiresFix, steps, width, height, n);
        }
        GenerationParams params = new GenerationParams(prompt, negativePrompt, model, sampler, steps, guidanceScale, guidanceRescale,
                clipSkip, seed, width, height, n, initImage == null ? null : initImage.png(), strength, eta, micro, negativeMicro,
                cacheInterval, loras, inpaint, hiresFix);
        try {
            // the diffusion core's own rules, at submit; then every LoRA it would run must exist
            GenerationRequest request = params.toRequest(initImage == null ? null : initImage.image(), mask == null ? null : mask.image());
            for (RequestedLora lora : request.allLoras()) {
                if (!lora.isOff()) {
                    engine.requireLora(lora.name());
                }
            }
        } catch (InvalidRequestException e) {
            String subject = e.field() + " ";
            String field = nativeField(e.field());
            throw e.getMessage().startsWith(subject) ? RequestException.invalidField(field, e.getMessage().substring(subject.length()))
                    : RequestException.invalid(field, e.getMessage());
        }
        promptChunks(model, "prompt", prompt);          // after the syntax check above: chunking parses emphasis
        promptChunks(model, "negative_prompt", negativePrompt);
        if (hiresFix != null) {
            promptChunks(model, "hires_fix.prompt", hiresFix.prompt());
            promptChunks(model, "hires_fix.negative_prompt", hiresFix.negativePrompt());
        }
        return params;
    }

    /**
     * The native {@code mask} (base64 PNG or JPEG; white repaints, or the alpha where it has transparency),
     * resized to the init image's size when it has another; null when absent. Needs {@code init_image}.
     */
    private static DecodedImage mask(JsonNode body, DecodedImage initImage) {
        String base64 = string(body, "mask", null);
        if (base64 == null || base64.isEmpty()) {
            return null; // the inpainting options alone ask for nothing
        }
        if (initImage == null) {
            throw RequestException.invalidField("mask", "needs an init_image to inpaint");
        }
        DecodedImage mask = decodeImage(base64, "mask", INIT_IMAGE_PIXELS);
        BufferedImage image = mask.image();
        int w = initImage.image().getWidth();
        int h = initImage.image().getHeight();
        if (image.getWidth() == w && image.getHeight() == h) {
            return mask;
        }
        // A1111 resizes the mask with the init image; here it takes the init image's size (the pipeline resizes both)
        boolean alpha = image.getColorModel().hasAlpha();
        BufferedImage resized = new BufferedImage(w, h, alpha ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = resized.createGraphics();
        g.setRenderingHint(java.awt.RenderingHints.KEY_INTERPOLATION, java.awt.RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(image, 0, 0, w, h, null);
        g.dispose();
        return new DecodedImage(png(resized, "mask"), resized);
    }

    /** The inpainting options beside a mask: {@code mask_blur}, {@code mask_invert}, {@code inpaint_fill}, {@code inpaint_full_res(_padding)}. */
    private static GenerationParams.Inpaint inpaint(JsonNode body, byte[] maskPng) {
        int blur = (int) integer(body, "mask_blur", InpaintOptions.DEFAULT_MASK_BLUR, 0, InpaintOptions.MAX_MASK_BLUR);
        boolean invert = bool(body, "mask_invert", false);
        int fill = fill(body.get("inpaint_fill"));
        boolean fullRes = bool(body, "inpaint_full_res", false);
        int padding = (int) integer(body, "inpaint_full_res_padding", InpaintOptions.DEFAULT_PADDING, 0, InpaintOptions.MAX_PADDING);
        return new GenerationParams.Inpaint(maskPng, blur, invert, fill, fullRes, padding);
    }

    /** {@code inpaint_fill}: a name of {@link #FILL_NAMES} or A1111's index 0..3; absent: "original". */
    private static int fill(JsonNode node) {
        if (node == null || node.isNull()) {
            return InpaintOptions.Fill.ORIGINAL.a1111Index();
        }
        if (node.isIntegralNumber() && node.asLong() >= 0 && node.asLong() < FILL_NAMES.size()) {
            return node.asInt();
        }
        if (node.isTextual() && FILL_NAMES.contains(node.asText().replace(' ', '_'))) {
            return FILL_NAMES.indexOf(node.asText().replace(' ', '_'));
        }
        throw RequestException.aboutField(400, "invalid_value", "inpaint_fill", "must be one of " + String.join(", ", FILL_NAMES)
                + " (or 0..3), got " + node);
    }

    /**
     * The native {@code hires_fix} object ({@code scale}, {@code width}/{@code height} (0: from the scale or
     * the aspect ratio), {@code upscaler}, {@code steps} (0: the request's), {@code strength}, {@code sampler},
     * {@code prompt}, {@code negative_prompt}), or null when absent or null.
     */
    private HiresFix hiresFix(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw RequestException.aboutField(400, "invalid_type", "hires_fix", "must be an object with " + String.join(", ", HIRES_FIELDS));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!HIRES_FIELDS.contains(name)) {
                throw new RequestException(400, "unknown_field", "unknown field hires_fix." + name + " (fields: "
                        + String.join(", ", HIRES_FIELDS) + ")", "hires_fix." + name);
            }
        }
        double scale = number(node, "scale", 2, 1, HiresFix.MAX_SCALE, "hires_fix.scale");
        int resizeX = (int) integer(node, "width", 0, 0, limits.maxWidth(), "hires_fix.width");
        int resizeY = (int) integer(node, "height", 0, 0, limits.maxHeight(), "hires_fix.height");
        String upscaler = string(node, "upscaler", DEFAULT_UPSCALER, "hires_fix.upscaler");
        if (Upscalers.find(upscaler).isEmpty()) {
            throw new RequestException(400, "unknown_upscaler", "unknown upscaler " + upscaler + " (upscalers: "
                    + String.join(", ", Upscalers.names()) + ")", "hires_fix.upscaler");
        }
        int secondSteps = (int) integer(node, "steps", 0, 0, limits.maxSteps(), "hires_fix.steps");
        double strength = number(node, "strength", HiresFix.DEFAULT_DENOISING_STRENGTH, 0, 1, "hires_fix.strength");
        if (strength == 0) {
            throw RequestException.aboutField(400, "out_of_range", "hires_fix.strength", "must be in (0, 1], got 0");
        }
        String samplerName = string(node, "sampler", null, "hires_fix.sampler");
        Sampler sampler = null;
        if (samplerName != null && !samplerName.isEmpty()) {
            if (engine.samplers().stream().noneMatch(s -> s.name().equals(samplerName))) {
                throw new RequestException(400, "unknown_sampler", "unknown sampler " + samplerName, "hires_fix.sampler");
            }
            sampler = Sampler.fromName(samplerName);
        }
        String prompt = string(node, "prompt", "", "hires_fix.prompt");
        promptLength("hires_fix.prompt", prompt);
        String negative = string(node, "negative_prompt", "", "hires_fix.negative_prompt");
        promptLength("hires_fix.negative_prompt", negative);
        try {
            return new HiresFix(scale, resizeX, resizeY, upscaler, secondSteps, strength, sampler, prompt, negative);
        } catch (InvalidRequestException e) {
            throw RequestException.invalid("hires_fix", e.getMessage());
        }
    }

    /**
     * Refuses {@code images} images of {@code params} (A1111's {@code n_iter} batches together) that would
     * cost more than {@link Limits#maxJobCost()}, counting a hires fix's second pass.
     */
    public void cost(GenerationParams params, long images) {
        if (params.hiresFix() == null) {
            cost(params.steps(), params.width(), params.height(), images);
            return;
        }
        ModelDescriptor model = engine.models().stream().filter(m -> m.id().equals(params.model())).findFirst().orElseThrow();
        hiresCost(model, params.hiresFix(), params.steps(), params.width(), params.height(), images);
    }

    /** Refuses a hires fix whose second pass is larger than the model allows, or whose two passes cost too much. */
    private void hiresCost(ModelDescriptor model, HiresFix hires, int steps, int width, int height, long n) {
        HiresFix.Target target;
        try {
            target = hires.target(width, height, 8);
        } catch (InvalidRequestException e) {
            throw RequestException.invalid("hires_fix", e.getMessage());
        }
        long pixels = (long) target.width() * target.height();
        long most = limits.maxPixels(model);
        if (pixels > most) {
            throw new RequestException(400, "image_too_large", "the hires fix's " + target.width() + "x" + target.height() + " is "
                    + pixels + " pixels; model " + model.id() + " allows at most " + most + " (" + limitReason(model) + ")",
                    hires.resizes() ? "hires_fix.width" : "hires_fix.scale");
        }
        int secondSteps = hires.secondPassSteps() > 0 ? hires.secondPassSteps() : steps;
        double cost = Limits.megapixelSteps(steps, width, height, n) + Limits.megapixelSteps(secondSteps, target.width(), target.height(), n);
        if (cost > limits.maxJobCost()) {
            throw new RequestException(400, "job_too_costly", String.format(java.util.Locale.ROOT,
                    "the job with its hires fix would cost %.1f megapixel-steps (%d steps x %dx%d and %d steps x %dx%d, x %d images / 10^6);"
                            + " the most is %d (--max-job-cost)", cost, steps, width, height, secondSteps, target.width(), target.height(), n,
                    limits.maxJobCost()), "hires_fix");
        }
    }

    private static byte[] png(BufferedImage image, String field) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + field + " as PNG", e);
        }
        return out.toByteArray();
    }

    private static boolean bool(JsonNode body, String field, boolean fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw RequestException.aboutField(400, "invalid_type", field, "must be true or false");
        }
        return node.asBoolean();
    }

    /** The native name of a field the diffusion core names as A1111 does. */
    private static String nativeField(String field) {
        if (field == null) {
            return null;
        }
        return switch (field) {
            case "enable_hr" -> "hires_fix";
            case "hr_scale" -> "hires_fix.scale";
            case "hr_resize_x" -> "hires_fix.width";
            case "hr_resize_y" -> "hires_fix.height";
            case "hr_upscaler" -> "hires_fix.upscaler";
            case "hr_second_pass_steps" -> "hires_fix.steps";
            case "denoising_strength" -> "hires_fix.strength";
            case "hr_prompt" -> "hires_fix.prompt";
            case "hr_negative_prompt" -> "hires_fix.negative_prompt";
            case "inpainting_mask_invert" -> "mask_invert";
            case "inpainting_fill" -> "inpaint_fill";
            default -> field;
        };
    }

    /** The native API's {@code loras}: [{"name": "style", "weight": 0.8}], or {@code te_weight} / {@code unet_weight} apart. */
    private static List<RequestedLora> loras(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw RequestException.aboutField(400, "invalid_type", "loras", "must be an array of {\"name\", \"weight\"} objects");
        }
        List<RequestedLora> loras = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            String where = "loras[" + i + "]";
            if (!item.isObject()) {
                throw RequestException.aboutField(400, "invalid_type", where, "must be an object {\"name\", \"weight\"}");
            }
            for (Iterator<String> names = item.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!LORA_FIELDS.contains(name)) {
                    throw new RequestException(400, "unknown_field", "unknown field " + where + "." + name
                            + " (a LoRA takes name, weight, te_weight, unet_weight)", where + "." + name);
                }
            }
            String name = string(item, "name", null);
            if (name == null || name.isBlank()) {
                throw RequestException.aboutField(400, "missing_field", where + ".name", "is required");
            }
            double max = RequestedLora.MAX_WEIGHT;
            double weight = number(item, "weight", 1.0, -max, max, where + ".weight");
            loras.add(new RequestedLora(name, number(item, "te_weight", weight, -max, max, where + ".te_weight"),
                    number(item, "unet_weight", weight, -max, max, where + ".unet_weight")));
        }
        return loras;
    }

    /** The names of a micro-conditioning object's fields, in the order of {@link MicroConditioning#values()}. */
    static final List<String> MICRO_CONDITIONING_FIELDS = List.of("original_width", "original_height", "crop_top", "crop_left",
            "target_width", "target_height");

    /**
     * SDXL's micro-conditioning {@code {original_width, original_height, crop_top, crop_left,
     * target_width, target_height}} (each optional: original and target default to the image size, the
     * crop to 0), or null when absent; refused on models that are not SDXL, which have no such input.
     */
    private static MicroConditioning microConditioning(JsonNode body, String field, ModelDescriptor model, int width, int height) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!model.isSdxl()) {
            throw RequestException.aboutField(400, "invalid_value", field, "applies to SDXL models only; " + model.id()
                    + " is a Stable Diffusion 1.x/2.x model");
        }
        if (!node.isObject()) {
            throw RequestException.aboutField(400, "invalid_type", field, "must be an object with " + String.join(", ", MICRO_CONDITIONING_FIELDS));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!MICRO_CONDITIONING_FIELDS.contains(name)) {
                throw RequestException.aboutField(400, "invalid_value", field, "has no field " + name + " (fields: "
                        + String.join(", ", MICRO_CONDITIONING_FIELDS) + ")");
            }
        }
        int[] defaults = MicroConditioning.defaults(width, height).values();
        int[] values = new int[defaults.length];
        for (int i = 0; i < values.length; i++) {
            String name = MICRO_CONDITIONING_FIELDS.get(i);
            int min = name.startsWith("crop") ? 0 : 1;
            values[i] = (int) integer(node, name, defaults[i], min, MicroConditioning.MAX_VALUE, field + "." + name);
        }
        return MicroConditioning.fromValues(values);
    }

    /** Refuses an image larger than {@link Limits#maxPixels(ModelDescriptor)} on its model. */
    private void area(ModelDescriptor model, int width, int height) {
        long pixels = (long) width * height;
        long most = limits.maxPixels(model);
        if (pixels > most) {
            throw new RequestException(400, "image_too_large", width + "x" + height + " is " + pixels + " pixels; model "
                    + model.id() + " allows at most " + most + " (" + limitReason(model) + ")", "width");
        }
    }

    /** Where {@code model}'s largest area comes from, for messages. */
    private String limitReason(ModelDescriptor model) {
        return limits.maxPixels() > 0 ? "--max-pixels" : Limits.NATIVE_AREA_FACTOR + " times its native "
                + model.defaultWidth() + "x" + model.defaultHeight() + "; --max-pixels sets another limit";
    }

    /**
     * Refuses a job (or a request of several jobs, such as A1111's {@code n_iter} batches: {@code n}
     * counts all their images) that would cost more than {@link Limits#maxJobCost()} megapixel-steps.
     */
    public void cost(int steps, int width, int height, long n) {
        double cost = Limits.megapixelSteps(steps, width, height, n);
        if (cost > limits.maxJobCost()) {
            throw new RequestException(400, "job_too_costly", String.format(java.util.Locale.ROOT,
                    "the job would cost %.1f megapixel-steps (%d steps x %dx%d x %d images / 10^6); the most is %d (--max-job-cost):"
                            + " ask for fewer steps, images or pixels", cost, steps, width, height, n, limits.maxJobCost()), null);
        }
    }

    /** Refuses a prompt longer than {@link Limits#maxPromptChars()}: checked before anything reads the text. */
    private void promptLength(String field, String text) {
        if (text.length() > limits.maxPromptChars()) {
            throw new RequestException(400, "prompt_too_long", field + " is " + text.length() + " characters long; the most is "
                    + limits.maxPromptChars() + " (--max-prompt-chars)", field);
        }
    }

    /** Refuses a prompt the model's tokenizer cuts into more than {@link Limits#maxPromptChunks()} chunks of 75 tokens. */
    private void promptChunks(String model, String field, String text) {
        int chunks = engine.promptChunks(model, text);
        if (chunks > limits.maxPromptChunks()) {
            throw new RequestException(400, "prompt_too_long", field + " takes " + chunks + " chunks of 75 tokens on model " + model
                    + "; the most is " + limits.maxPromptChunks() + " (--max-prompt-chunks)", field);
        }
    }

    /** Why the request's prompt may not come out as intended on its model (its card's warnings); empty when none. */
    public List<String> warnings(GenerationParams params) {
        return engine.models().stream().filter(m -> m.id().equals(params.model())).findFirst()
                .map(m -> m.promptWarnings(params.prompt())).orElse(List.of());
    }

    /** The params as a native request (the init image left out: it is stored apart). */
    public static ObjectNode toJson(GenerationParams p) {
        ObjectNode json = JSON.createObjectNode();
        json.put("prompt", p.prompt());
        json.put("negative_prompt", p.negativePrompt());
        json.put("model", p.model());
        json.put("sampler", p.sampler());
        json.put("steps", p.steps());
        json.put("guidance_scale", p.guidanceScale());
        json.put("guidance_rescale", p.guidanceRescale());
        json.put("clip_skip", p.clipSkip());
        json.put("seed", p.seed());
        json.put("width", p.width());
        json.put("height", p.height());
        json.put("n", p.n());
        if (p.initImage() != null) {
            json.put("strength", p.strength());
        }
        if (p.eta() != 0) {
            json.put("eta", p.eta());
        }
        if (p.cacheInterval() != 1) {
            json.put("cache_interval", p.cacheInterval());
        }
        if (!p.loras().isEmpty()) {
            ArrayNode loras = json.putArray("loras");
            for (RequestedLora lora : p.loras()) {
                loras.addObject().put("name", lora.name()).put("te_weight", lora.textEncoderWeight()).put("unet_weight", lora.unetWeight());
            }
        }
        if (p.microConditioning() != null) {
            json.set("micro_conditioning", toJson(p.microConditioning()));
        }
        if (p.negativeMicroConditioning() != null) {
            json.set("negative_micro_conditioning", toJson(p.negativeMicroConditioning()));
        }
        GenerationParams.Inpaint inpaint = p.inpaint();
        if (inpaint != null) {
            json.put("mask_blur", inpaint.maskBlur()).put("mask_invert", inpaint.invert()).put("inpaint_fill", FILL_NAMES.get(inpaint.fill()))
                    .put("inpaint_full_res", inpaint.fullRes()).put("inpaint_full_res_padding", inpaint.fullResPadding());
        }
        HiresFix h = p.hiresFix();
        if (h != null) {
            ObjectNode hires = json.putObject("hires_fix").put("scale", h.scale()).put("width", h.resizeX()).put("height", h.resizeY())
                    .put("upscaler", h.upscaler()).put("steps", h.secondPassSteps()).put("strength", h.denoisingStrength());
            if (h.sampler() != null) {
                hires.put("sampler", h.sampler().apiName());
            }
            hires.put("prompt", h.prompt()).put("negative_prompt", h.negativePrompt());
        }
        return json;
    }

    /**
     * The params as the job store keeps them: {@link #toJson} with the mask as base64 PNG in {@code mask}
     * (the init image is stored apart; the mask, a small and mostly flat image, rides in the request).
     */
    public static ObjectNode toStoredJson(GenerationParams p) {
        ObjectNode json = toJson(p);
        if (p.inpaint() != null) {
            json.put("mask", Base64.getEncoder().encodeToString(p.inpaint().mask()));
        }
        return json;
    }

    private static ObjectNode toJson(MicroConditioning m) {
        ObjectNode json = JSON.createObjectNode();
        int[] values = m.values();
        for (int i = 0; i < values.length; i++) {
            json.put(MICRO_CONDITIONING_FIELDS.get(i), values[i]);
        }
        return json;
    }

    private static MicroConditioning microConditioningFromJson(JsonNode json) {
        if (json == null || json.isNull() || json.isMissingNode()) {
            return null;
        }
        return MicroConditioning.fromValues(MICRO_CONDITIONING_FIELDS.stream().mapToInt(name -> json.get(name).asInt()).toArray());
    }

    /** Reads params stored by {@link #toJson}; no validation (they were validated when stored). */
    public static GenerationParams fromJson(JsonNode json, byte[] initImage) {
        return new GenerationParams(json.get("prompt").asText(), json.get("negative_prompt").asText(),
                json.get("model").asText(), json.get("sampler").asText(), json.get("steps").asInt(),
                json.get("guidance_scale").asDouble(), json.get("guidance_rescale").asDouble(),
                json.get("clip_skip").asInt(), json.get("seed").asLong(), json.get("width").asInt(),
                json.get("height").asInt(), json.get("n").asInt(), initImage,
                json.path("strength").asDouble(DEFAULT_STRENGTH), json.path("eta").asDouble(0),
                microConditioningFromJson(json.get("micro_conditioning")), microConditioningFromJson(json.get("negative_micro_conditioning")),
                json.path("cache_interval").asInt(1), loras(json.get("loras")), inpaintFromJson(json), hiresFromJson(json.get("hires_fix")));
    }

    private static GenerationParams.Inpaint inpaintFromJson(JsonNode json) {
        if (!json.hasNonNull("mask")) {
            return null;
        }
        return new GenerationParams.Inpaint(Base64.getDecoder().decode(json.get("mask").asText()),
                json.path("mask_blur").asInt(InpaintOptions.DEFAULT_MASK_BLUR), json.path("mask_invert").asBoolean(false),
                fill(json.get("inpaint_fill")), json.path("inpaint_full_res").asBoolean(false),
                json.path("inpaint_full_res_padding").asInt(InpaintOptions.DEFAULT_PADDING));
    }

    private static HiresFix hiresFromJson(JsonNode h) {
        if (h == null || h.isNull() || h.isMissingNode()) {
            return null;
        }
        return new HiresFix(h.path("scale").asDouble(2), h.path("width").asInt(0), h.path("height").asInt(0),
                h.path("upscaler").asText(DEFAULT_UPSCALER), h.path("steps").asInt(0),
                h.path("strength").asDouble(HiresFix.DEFAULT_DENOISING_STRENGTH),
                h.hasNonNull("sampler") ? Sampler.fromName(h.get("sampler").asText()) : null,
                h.path("prompt").asText(""), h.path("negative_prompt").asText(""));
    }

    /** An uploaded image: as PNG bytes (what is stored) and decoded. */
    public record DecodedImage(byte[] png, BufferedImage image) {}

    /** Decodes a base64 image (a {@code data:} URL prefix allowed), converting other formats to PNG. */
    public static DecodedImage decodeImage(String base64, String field) {
        return decodeImage(base64, field, MAX_INIT_IMAGE_PIXELS);
    }

    /**
     * Decodes a base64 image (a {@code data:} URL prefix allowed), converting other formats to
     * PNG. An image whose header gives more than {@code maxPixels} pixels is refused before its
     * pixels are read (a small file may claim a huge image).
     */
    public static DecodedImage decodeImage(String base64, String field, long maxPixels) {
        String data = base64.startsWith("data:") && base64.indexOf(',') > 0 ? base64.substring(base64.indexOf(',') + 1) : base64;
        byte[] bytes;
        try {
            bytes = Base64.getMimeDecoder().decode(data);
        } catch (IllegalArgumentException e) {
            throw RequestException.invalidField(field, "is not valid base64");
        }
        long[] size = headerSize(bytes);
        if (size == null) {
            throw RequestException.invalid(field, field + " is not a PNG or JPEG image");
        }
        long pixels = size[0] * size[1];
        if (pixels > Math.min(maxPixels, MAX_INIT_IMAGE_PIXELS)) {
            throw new RequestException(400, "image_too_large", field + " is " + size[0] + "x" + size[1] + " (" + pixels
                    + " pixels); at most " + Math.min(maxPixels, MAX_INIT_IMAGE_PIXELS) + " pixels are allowed", field);
        }
        BufferedImage image;
        try {
            image = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException | RuntimeException e) {
            image = null;
        }
        if (image == null) {
            throw RequestException.invalidField(field, "is not a PNG or JPEG image");
        }
        if (bytes.length > 8 && bytes[0] == (byte) 0x89 && bytes[1] == 'P') {
            return new DecodedImage(bytes, image);
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", png);
        } catch (IOException e) {
            throw new IllegalStateException("cannot re-encode " + field + " as PNG", e);
        }
        return new DecodedImage(png.toByteArray(), image);
    }

    /** The init image as PNG bytes, or null; at most {@link #INIT_IMAGE_PIXELS} or the model's limit, whichever is larger. */
    private DecodedImage initImage(JsonNode body, ModelDescriptor model) {
        String base64 = string(body, "init_image", null);
        if (base64 == null) {
            return null;
        }
        try {
            return decodeImage(base64, "init_image", Math.max(limits.maxPixels(model), INIT_IMAGE_PIXELS));
        } catch (RequestException e) {
            if (!e.code().equals("image_too_large")) {
                throw e;
            }
            throw new RequestException(400, e.code(), e.getMessage() + " (" + (INIT_IMAGE_PIXELS / 1_000_000) + " megapixels, or model "
                    + model.id() + "'s limit if larger; init images are resized to the requested size)", e.field());
        }
    }

    /** The width and height in an image's header, read without decoding any pixel; null when no reader knows the format. */
    private static long[] headerSize(byte[] bytes) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = in == null ? java.util.Collections.emptyIterator() : ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                return null;
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return new long[] {reader.getWidth(0), reader.getHeight(0)};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String string(JsonNode body, String field, String fallback) {
        return string(body, field, fallback, field);
    }

    private static String string(JsonNode body, String field, String fallback, String name) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isTextual()) {
            throw RequestException.aboutField(400, "invalid_type", name, "must be a string");
        }
        return node.asText();
    }

    private static long integer(JsonNode body, String field, long fallback, long min, long max) {
        return integer(body, field, fallback, min, max, field);
    }

    /** As {@link #integer(JsonNode, String, long, long, long)}, naming the value {@code name} in errors ({@code micro_conditioning.crop_top}). */
    private static long integer(JsonNode body, String field, long fallback, long min, long max, String name) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isIntegralNumber() && !(node.isNumber() && node.asDouble() == Math.rint(node.asDouble()))) {
            throw RequestException.aboutField(400, "invalid_type", name, "must be an integer");
        }
        if (!node.canConvertToLong() || node.asLong() < min || node.asLong() > max) {
            throw RequestException.aboutField(400, "out_of_range", name, "must be between " + min + " and " + max + ", got " + node.asText());
        }
        return node.asLong();
    }

    private static double number(JsonNode body, String field, double fallback, double min, double max) {
        return number(body, field, fallback, min, max, field);
    }

    private static double number(JsonNode body, String field, double fallback, double min, double max, String name) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw RequestException.aboutField(400, "invalid_type", name, "must be a number");
        }
        double value = node.asDouble();
        if (!(value >= min && value <= max)) {
            throw RequestException.aboutField(400, "out_of_range", name, "must be between " + min + " and " + max + ", got " + node.asText());
        }
        return value;
    }
}
