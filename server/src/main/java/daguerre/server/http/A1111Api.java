package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.jobs.ActiveJob;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.sql.SQLException;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The routes AUTOMATIC1111's web UI offers under {@code /sdapi/v1}, with its field names,
 * defaults, response shapes and error bodies, so that tools written for it work unchanged.
 * Generation requests are queued like any other job; the response is sent when the job ends.
 */
final class A1111Api {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A1111's API defaults. */
    private static final int DEFAULT_STEPS = 50;
    private static final double DEFAULT_CFG_SCALE = 7.0;
    private static final String DEFAULT_SAMPLER = "Euler a";
    /** A1111 field → native field, for the fields that map one to one. */
    private static final Map<String, String> FIELDS = Map.of("prompt", "prompt", "negative_prompt", "negative_prompt",
            "seed", "seed", "steps", "steps", "cfg_scale", "guidance_scale", "width", "width", "height", "height",
            "denoising_strength", "strength");

    private final Services services;

    A1111Api(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.post("/sdapi/v1/txt2img").blockingHandler(ctx -> generate(ctx, false), false);
        router.post("/sdapi/v1/img2img").blockingHandler(ctx -> generate(ctx, true), false);
        router.get("/sdapi/v1/progress").handler(this::progress);
        router.post("/sdapi/v1/interrupt").handler(this::interrupt);
        router.get("/sdapi/v1/samplers").handler(this::samplers);
        router.get("/sdapi/v1/sd-models").handler(this::models);
        router.get("/sdapi/v1/options").blockingHandler(this::getOptions, false);
        router.post("/sdapi/v1/options").blockingHandler(this::setOptions, false);
        router.post("/sdapi/v1/png-info").blockingHandler(this::pngInfo, false);
    }

    private void generate(RoutingContext ctx, boolean img2img) {
        JsonNode body = Http.body(ctx);
        if (!body.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object");
        }
        ObjectNode request = toNative((ObjectNode) body, img2img);
        GenerationParams params;
        try {
            params = services.requests().parse(request, false);
        } catch (RequestException e) {
            throw e.field() == null ? e : e.withField(a1111Field(e.field()));
        }
        ActiveJob job = services.queue().submit(params);
        ctx.put(ServiceLog.JOB_ID, job.id());
        services.queue().completion(job.id()).whenComplete((record, error) -> services.vertx().executeBlocking(() -> {
            if (error != null) {
                throw error instanceof RuntimeException r ? r : new IllegalStateException(error);
            }
            return response(record, (ObjectNode) body);
        }).onSuccess(response -> Http.send(ctx, 200, response)).onFailure(ctx::fail));
    }

    /** Maps an A1111 request onto native field names, applying A1111's defaults. */
    private ObjectNode toNative(ObjectNode body, boolean img2img) {
        ObjectNode request = JSON.createObjectNode();
        FIELDS.forEach((a1111, nativeName) -> {
            JsonNode value = body.get(a1111);
            if (value != null && !value.isNull()) {
                request.set(nativeName, value);
            }
        });
        if (!request.has("prompt")) {
            request.put("prompt", "");
        }
        if (!request.has("steps")) {
            request.put("steps", DEFAULT_STEPS);
        }
        if (!request.has("guidance_scale")) {
            request.put("guidance_scale", DEFAULT_CFG_SCALE);
        }
        for (String size : List.of("width", "height")) {
            // absent: the model's own size (512 for SD 1.5, as A1111's default; 64 for the default model)
            JsonNode value = request.get(size);
            if (value != null && value.isIntegralNumber() && value.canConvertToInt()) {
                request.put(size, value.asInt() / 8 * 8);
            }
        }
        request.put("sampler", samplerName(body));
        request.set("n", batchCount(body));
        JsonNode model = body.path("override_settings").path("sd_model_checkpoint");
        if (model.isTextual()) {
            request.put("model", modelId(model.asText()));
        }
        if (img2img) {
            JsonNode images = body.get("init_images");
            if (images == null || !images.isArray() || images.isEmpty() || !images.get(0).isTextual()) {
                throw new RequestException(400, "missing_field", "init_images must hold one base64 image", "init_images");
            }
            request.put("init_image", images.get(0).asText());
            if (!request.has("strength")) {
                request.put("strength", GenerationRequests.DEFAULT_STRENGTH);
            }
        } else {
            request.remove("strength");
        }
        return request;
    }

    /** {@code sampler_name} (or the older {@code sampler_index}) as an A1111 name; scheduler "Karras" picks the Karras variant. */
    private String samplerName(ObjectNode body) {
        JsonNode name = body.hasNonNull("sampler_name") ? body.get("sampler_name") : body.get("sampler_index");
        if (name != null && !name.isNull() && !name.isTextual()) {
            throw new RequestException(400, "invalid_type", "sampler_name must be a string", "sampler_name");
        }
        String a1111 = name == null || name.isNull() ? DEFAULT_SAMPLER : name.asText();
        JsonNode scheduler = body.get("scheduler");
        if (scheduler != null && scheduler.isTextual() && scheduler.asText().equalsIgnoreCase("karras") && !a1111.endsWith("Karras")) {
            a1111 = a1111 + " Karras";
        }
        String chosen = a1111;
        return services.engine().samplers().stream().filter(s -> s.a1111Name().equals(chosen) || s.name().equals(chosen))
                .map(SamplerDescriptor::name).findFirst()
                .orElseThrow(() -> new RequestException(400, "unknown_sampler", "sampler not found: " + chosen, "sampler_name"));
    }

    private static JsonNode batchCount(ObjectNode body) {
        JsonNode batchSize = body.get("batch_size");
        JsonNode iterations = body.get("n_iter");
        for (var entry : Map.of("batch_size", batchSize == null ? JSON.nullNode() : batchSize,
                "n_iter", iterations == null ? JSON.nullNode() : iterations).entrySet()) {
            if (!entry.getValue().isNull() && !entry.getValue().isIntegralNumber()) {
                throw new RequestException(400, "invalid_type", entry.getKey() + " must be an integer", entry.getKey());
            }
        }
        long size = batchSize == null || batchSize.isNull() ? 1 : batchSize.asLong();
        long count = iterations == null || iterations.isNull() ? 1 : iterations.asLong();
        if (size < 1 || count < 1) {
            throw new RequestException(400, "out_of_range", "batch_size and n_iter must be at least 1", size < 1 ? "batch_size" : "n_iter");
        }
        return JSON.getNodeFactory().numberNode(size * count);
    }

    /** A model id from A1111's checkpoint title ({@code name [hash]}), name, file name or hash. */
    private String modelId(String title) {
        for (ModelDescriptor model : services.engine().models()) {
            if (title.equals(title(model)) || title.equals(model.name()) || title.equals(model.id()) || title.equals(model.hash())
                    || title.startsWith(model.id() + ".")) {
                return model.id();
            }
        }
        throw new RequestException(404, "model_not_found", "model not found: " + title, "sd_model_checkpoint");
    }

    private static String a1111Field(String nativeField) {
        return switch (nativeField) {
            case "guidance_scale" -> "cfg_scale";
            case "sampler" -> "sampler_name";
            case "strength" -> "denoising_strength";
            case "init_image" -> "init_images";
            case "n" -> "batch_size";
            case "model" -> "sd_model_checkpoint";
            default -> nativeField;
        };
    }

    private ObjectNode response(JobRecord job, ObjectNode requestBody) throws IOException, SQLException {
        if (job.state() == JobState.FAILED) {
            throw new RequestException(500, job.errorCode(), "generation failed: " + job.errorMessage(), null);
        }
        ObjectNode response = JSON.createObjectNode();
        ArrayNode images = response.putArray("images");
        ArrayNode seeds = JSON.createArrayNode();
        ArrayNode infotexts = JSON.createArrayNode();
        for (String id : job.imageIds()) {
            var entry = services.gallery().find(id).orElseThrow();
            images.add(Base64.getEncoder().encodeToString(services.gallery().png(id).orElseThrow()));
            seeds.add(entry.seed());
            infotexts.add(entry.infotext());
        }
        response.set("parameters", requestBody);
        GenerationParams p = job.params();
        ModelDescriptor model = services.engine().models().stream().filter(m -> m.id().equals(p.model())).findFirst().orElseThrow();
        ObjectNode info = JSON.createObjectNode().put("prompt", p.prompt()).put("negative_prompt", p.negativePrompt())
                .put("seed", p.seed()).put("width", p.width()).put("height", p.height())
                .put("sampler_name", a1111Sampler(p.sampler())).put("cfg_scale", p.guidanceScale()).put("steps", p.steps())
                .put("batch_size", p.n()).put("clip_skip", p.clipSkip()).put("sd_model_name", model.name())
                .put("sd_model_hash", model.hash()).put("job_timestamp", Http.time(job.createdAt()))
                .put("interrupted", job.state() == JobState.CANCELLED);
        ArrayNode prompts = info.putArray("all_prompts");
        seeds.forEach(s -> prompts.add(p.prompt()));
        info.set("all_seeds", seeds);
        info.set("infotexts", infotexts);
        if (p.initImage() != null) {
            info.put("denoising_strength", p.strength());
        }
        info.set("warnings", JSON.valueToTree(services.requests().warnings(p)));
        response.put("info", info.toString());
        return response;
    }

    private String a1111Sampler(String name) {
        return services.engine().samplers().stream().filter(s -> s.name().equals(name)).map(SamplerDescriptor::a1111Name)
                .findFirst().orElse(name);
    }

    private static String title(ModelDescriptor model) {
        return model.name() + " [" + model.hash() + "]";
    }

    /** A1111's progress: the running job's fraction done, ETA and latest preview. */
    private void progress(RoutingContext ctx) {
        List<ActiveJob> running = services.queue().runningJobs();
        ObjectNode body = JSON.createObjectNode();
        ObjectNode state = JSON.createObjectNode();
        if (running.isEmpty()) {
            body.put("progress", 0.0).put("eta_relative", 0.0);
            state.put("job", "").put("job_count", 0).put("sampling_step", 0).put("sampling_steps", 0).put("interrupted", false);
        } else {
            ActiveJob job = running.get(0);
            int total = job.params().steps();
            Long eta = services.queue().etaMs(job.id());
            body.put("progress", (double) job.step() / total).put("eta_relative", eta == null ? 0.0 : eta / 1000.0);
            state.put("job", job.id()).put("job_count", running.size() + services.queue().depth())
                    .put("sampling_step", job.step()).put("sampling_steps", total).put("interrupted", job.cancelRequested());
        }
        state.put("skipped", false).put("job_no", 0);
        body.set("state", state);
        byte[] preview = running.isEmpty() ? null : running.get(0).lastPreview();
        if (preview == null) {
            body.putNull("current_image");
        } else {
            body.put("current_image", Base64.getEncoder().encodeToString(preview));
        }
        body.put("textinfo", running.isEmpty() ? "" : "running");
        Http.send(ctx, 200, body);
    }

    private void interrupt(RoutingContext ctx) {
        services.queue().cancelRunning();
        Http.send(ctx, 200, JSON.createObjectNode());
    }

    private void samplers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (SamplerDescriptor sampler : services.engine().samplers()) {
            ObjectNode item = items.addObject().put("name", sampler.a1111Name());
            item.putArray("aliases").add(sampler.name());
            item.putObject("options");
        }
        Http.send(ctx, 200, items);
    }

    private void models(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (ModelDescriptor model : services.engine().models()) {
            items.addObject().put("title", title(model)).put("model_name", model.name()).put("hash", model.hash())
                    .putNull("sha256").put("filename", model.id()).putNull("config");
        }
        Http.send(ctx, 200, items);
    }

    private void getOptions(RoutingContext ctx) {
        String modelId;
        try {
            modelId = services.options().defaultModel();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read options: " + e.getMessage(), e);
        }
        ModelDescriptor model = services.engine().models().stream().filter(m -> m.id().equals(modelId)).findFirst().orElseThrow();
        Http.send(ctx, 200, JSON.createObjectNode().put("sd_model_checkpoint", title(model)).put("sd_checkpoint_hash", model.hash())
                .put("CLIP_stop_at_last_layers", 1).put("samples_format", "png"));
    }

    private void setOptions(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        JsonNode checkpoint = body.get("sd_model_checkpoint");
        if (checkpoint != null && !checkpoint.isNull()) {
            if (!checkpoint.isTextual()) {
                throw new RequestException(400, "invalid_type", "sd_model_checkpoint must be a string", "sd_model_checkpoint");
            }
            try {
                services.options().setDefaultModel(modelId(checkpoint.asText()));
            } catch (SQLException e) {
                throw new IllegalStateException("cannot store options: " + e.getMessage(), e);
            }
        }
        Http.send(ctx, 200, JSON.nullNode());
    }

    /** The text chunks of a PNG; {@code info} is its {@code parameters} infotext, {@code parameters} that text parsed. */
    private void pngInfo(RoutingContext ctx) {
        JsonNode image = Http.body(ctx).get("image");
        if (image == null || !image.isTextual() || image.asText().isEmpty()) {
            throw new RequestException(400, "missing_field", "image must be a base64 PNG", "image");
        }
        String text = image.asText();
        String data = text.startsWith("data:") && text.indexOf(',') > 0 ? text.substring(text.indexOf(',') + 1) : text;
        Map<String, String> chunks;
        try {
            chunks = PngText.read(Base64.getMimeDecoder().decode(data));
        } catch (IllegalArgumentException | IOException e) {
            throw new RequestException(400, "invalid_value", "image is not a base64 PNG", "image");
        }
        String infotext = chunks.getOrDefault("parameters", "");
        ObjectNode body = JSON.createObjectNode().put("info", infotext);
        ObjectNode items = body.putObject("items");
        chunks.forEach((key, value) -> {
            if (!key.equals("parameters")) {
                items.put(key, value);
            }
        });
        ObjectNode parameters = body.putObject("parameters");
        if (!infotext.isEmpty()) {
            Infotext parsed = Infotext.parse(infotext);
            parameters.put("Prompt", parsed.prompt()).put("Negative prompt", parsed.negativePrompt());
            parsed.parameters().forEach(parameters::put);
        }
        Http.send(ctx, 200, body);
    }
}
