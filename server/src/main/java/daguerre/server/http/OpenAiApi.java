package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.ActiveJob;
import daguerre.server.jobs.GenerationParams;
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
 * {@code seed}, {@code steps}, {@code guidance_scale}, {@code negative_prompt}, {@code sampler}.
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
        GenerationParams params;
        try {
            params = services.requests().parse(request, false);
        } catch (RequestException e) {
            // width and height come from OpenAI's size
            boolean sizeError = "width".equals(e.field()) || "height".equals(e.field());
            throw sizeError ? new RequestException(e.status(), e.code(), e.getMessage(), "size", e.retryAfterSeconds()) : e;
        }
        ActiveJob job = services.queue().submit(params);
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
