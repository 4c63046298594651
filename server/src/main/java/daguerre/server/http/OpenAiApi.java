package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's image generation route, {@code POST /v1/images/generations} (and {@code GET /v1/models}), so that OpenAI SDKs can
 * use the service: {@code prompt}, {@code model}, {@code n}, {@code size} "WxH",
 * {@code response_format} {@code b64_json} | {@code url}, and the extra optional fields
 * {@code seed}, {@code steps}, {@code guidance_scale}, {@code negative_prompt}, {@code sampler}; and its
 * edit route, {@code POST /v1/images/edits} (multipart image + mask + prompt), which inpaints.
 */
final class OpenAiApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SIZE = Pattern.compile("(\\d{1,5})x(\\d{1,5})");
    private static final List<String> PASSED_THROUGH = List.of("prompt", "model", "n", "seed", "steps", "guidance_scale",
            "negative_prompt", "sampler");

    private final Services services;

    OpenAiApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.post("/v1/images/generations").blockingHandler(this::generate, false);
        router.post("/v1/images/edits").blockingHandler(this::edit, false);
        router.get("/v1/models").handler(this::models);
    }

    /** OpenAI's model list, so that clients that check a model's availability find ours. */
    private void models(RoutingContext ctx) {
        ObjectNode body = JSON.createObjectNode().put("object", "list");
        ArrayNode data = body.putArray("data");
        for (ModelDescriptor model : services.engine().models()) {
            data.addObject().put("id", model.id()).put("object", "model").put("created", 0).put("owned_by", "daguerre");
        }
        Http.send(ctx, 200, body);
    }

    private void generate(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        if (!body.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object");
        }
        if (!body.hasNonNull("prompt")) {
            throw new RequestException(400, "missing_required_parameter", "prompt is required", "prompt");
        }
        ObjectNode request = JSON.createObjectNode();
        for (String field : PASSED_THROUGH) {
            if (body.hasNonNull(field)) {
                request.set(field, body.get(field));
            }
        }
        JsonNode size = body.get("size");
        if (size != null && !size.isNull() && !size.asText().equals("auto")) {
            Matcher matcher = SIZE.matcher(size.asText());
            if (!size.isTextual() || !matcher.matches()) {
                throw new RequestException(400, "invalid_value", "size must be WIDTHxHEIGHT, e.g. 512x512", "size");
            }
            request.put("width", Integer.parseInt(matcher.group(1)));
            request.put("height", Integer.parseInt(matcher.group(2)));
        }
        String format = body.path("response_format").asText("b64_json");
        if (!format.equals("b64_json") && !format.equals("url")) {
            throw new RequestException(400, "invalid_value", "response_format must be b64_json or url", "response_format");
        }
        submit(ctx, request, format);
    }

    /**
     * OpenAI's {@code POST /v1/images/edits} (multipart): {@code image} (PNG; {@code image[]} as the newer
     * SDKs send it), {@code mask} (optional; without one, the image's own alpha), {@code prompt}, {@code n},
     * {@code size}, {@code response_format}, and the extra fields of the generations route plus
     * {@code strength}. OpenAI's mask marks the area to edit by full transparency; it becomes a mask
     * whose white repaints, and the request is inpainted (the rest of the image is kept).
     */
    private void edit(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        if (type == null || !type.regionMatches(true, 0, "multipart/form-data", 0, 19)) {
            throw new RequestException(400, "invalid_request", "images/edits takes multipart/form-data (image, mask, prompt)", null);
        }
        var form = ctx.request().formAttributes();
        String prompt = form.get("prompt");
        if (prompt == null) {
            throw new RequestException(400, "missing_required_parameter", "prompt is required", "prompt");
        }
        byte[] image = upload(ctx, "image");
        if (image == null) {
            throw new RequestException(400, "missing_required_parameter", "image is required (a PNG file)", "image");
        }
        byte[] maskFile = upload(ctx, "mask");
        ObjectNode request = JSON.createObjectNode().put("prompt", prompt);
        for (String field : List.of("model", "negative_prompt", "sampler")) {
            if (form.get(field) != null) {
                request.put(field, form.get(field));
            }
        }
        for (String field : List.of("n", "seed", "steps")) {
            if (form.get(field) != null) {
                request.set(field, formNumber(form.get(field), field, true));
            }
        }
        for (String field : List.of("guidance_scale", "strength")) {
            if (form.get(field) != null) {
                request.set(field, formNumber(form.get(field), field, false));
            }
        }
        if (!request.has("strength")) {
            request.put("strength", 1.0); // the edited area is drawn anew
        }
        var decoded = daguerre.server.jobs.GenerationRequests.decodeImage(Base64.getEncoder().encodeToString(image), "image");
        java.awt.image.BufferedImage source = decoded.image();
        java.awt.image.BufferedImage maskSource = maskFile == null ? source
                : daguerre.server.jobs.GenerationRequests.decodeImage(Base64.getEncoder().encodeToString(maskFile), "mask").image();
        if (!maskSource.getColorModel().hasAlpha()) {
            throw new RequestException(400, "invalid_value", (maskFile == null ? "image" : "mask")
                    + " must have an alpha channel: its fully transparent pixels mark the area to edit", maskFile == null ? "image" : "mask");
        }
        if (maskFile != null && (maskSource.getWidth() != source.getWidth() || maskSource.getHeight() != source.getHeight())) {
            throw new RequestException(400, "invalid_value", "mask must have the image's size " + source.getWidth() + "x" + source.getHeight()
                    + ", got " + maskSource.getWidth() + "x" + maskSource.getHeight(), "mask");
        }
        request.put("init_image", png64(opaque(source)));
        request.put("mask", png64(repaintMask(maskSource)));
        String size = form.get("size");
        if (size != null && !size.equals("auto")) {
            Matcher matcher = SIZE.matcher(size);
            if (!matcher.matches()) {
                throw new RequestException(400, "invalid_value", "size must be WIDTHxHEIGHT, e.g. 512x512", "size");
            }
            request.put("width", Integer.parseInt(matcher.group(1)));
            request.put("height", Integer.parseInt(matcher.group(2)));
        } else {
            request.put("width", source.getWidth() / 8 * 8);   // the image's own size
            request.put("height", source.getHeight() / 8 * 8);
        }
        String format = form.get("response_format") == null ? "b64_json" : form.get("response_format");
        if (!format.equals("b64_json") && !format.equals("url")) {
            throw new RequestException(400, "invalid_value", "response_format must be b64_json or url", "response_format");
        }
        submit(ctx, request, format);
    }

    /** The bytes of the uploaded file {@code field} (or {@code field[]}: the first), or null when none was sent. */
    private byte[] upload(RoutingContext ctx, String field) {
        for (var upload : ctx.fileUploads()) {
            if (upload.name().equals(field) || upload.name().equals(field + "[]")) {
                return services.vertx().fileSystem().readFileBlocking(upload.uploadedFileName()).getBytes();
            }
        }
        return null;
    }

    private static JsonNode formNumber(String text, String field, boolean integer) {
        try {
            return integer ? JSON.getNodeFactory().numberNode(Long.parseLong(text.trim()))
                    : JSON.getNodeFactory().numberNode(Double.parseDouble(text.trim()));
        } catch (NumberFormatException e) {
            throw new RequestException(400, "invalid_value", field + " must be " + (integer ? "an integer" : "a number") + ", got " + text, field);
        }
    }

    /** White (repaint) where {@code mask} is fully transparent, black elsewhere: OpenAI's mask as Daguerre's. */
    static java.awt.image.BufferedImage repaintMask(java.awt.image.BufferedImage mask) {
        var out = new java.awt.image.BufferedImage(mask.getWidth(), mask.getHeight(), java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < mask.getHeight(); y++) {
            for (int x = 0; x < mask.getWidth(); x++) {
                out.setRGB(x, y, (mask.getRGB(x, y) >>> 24) == 0 ? 0xffffff : 0);
            }
        }
        return out;
    }

    /** The image's colours without its alpha. */
    private static java.awt.image.BufferedImage opaque(java.awt.image.BufferedImage image) {
        var out = new java.awt.image.BufferedImage(image.getWidth(), image.getHeight(), java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                out.setRGB(x, y, image.getRGB(x, y) & 0xffffff);
            }
        }
        return out;
    }

    private static String png64(java.awt.image.BufferedImage image) {
        var out = new java.io.ByteArrayOutputStream();
        try {
            javax.imageio.ImageIO.write(image, "png", out);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    /** Validates and queues a native request, and answers when its job ends. */
    private void submit(RoutingContext ctx, ObjectNode request, String format) {
        GenerationParams params;
        try {
            params = services.requests().parse(request, false);
        } catch (RequestException e) {
            // width and height come from OpenAI's size
            boolean sizeError = "width".equals(e.field()) || "height".equals(e.field());
            throw sizeError ? new RequestException(e.status(), e.code(), e.getMessage(), "size", e.retryAfterSeconds()) : e;
        }
        JobHandle job = services.queue().submit(params);
        ctx.put(ServiceLog.JOB_ID, job.id());
        Http.onClientGone(ctx, () -> services.queue().abandon(job.id()));
        String baseUrl = Http.baseUrl(ctx, services.config().publicUrl());
        services.queue().completion(job.id()).whenComplete((record, error) -> services.vertx().executeBlocking(() -> {
            if (error != null) {
                throw error instanceof RuntimeException r ? r : new IllegalStateException(error);
            }
            return response(record, format, baseUrl);
        }).onSuccess(response -> Http.send(ctx, 200, response)).onFailure(ctx::fail));
    }

    private ObjectNode response(JobRecord job, String format, String baseUrl) throws Exception {
        if (job.state() == JobState.CANCELLED) {   // by a cancel through the native API: the request's conflict, not a server error
            throw new RequestException(409, "cancelled", "the generation was cancelled (job " + job.id() + ")", null);
        }
        if (job.state() != JobState.SUCCEEDED) {
            throw new RequestException(500, job.errorCode(), "generation failed: " + job.errorMessage(), null);
        }
        ObjectNode response = JSON.createObjectNode().put("created", job.createdAt() / 1000);
        ArrayNode data = response.putArray("data");
        for (String id : job.imageIds()) {
            ObjectNode item = data.addObject();
            if (format.equals("url")) {
                item.put("url", baseUrl + "/api/v1/images/" + id);
            } else {
                item.put("b64_json", Base64.getEncoder().encodeToString(services.gallery().png(id).orElseThrow()));
            }
            item.put("revised_prompt", job.params().prompt());
        }
        response.set("warnings", JSON.valueToTree(services.requests().warnings(job.params())));
        return response;
    }
}
