package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.HiresFix;
import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.JpegText;
import daguerre.diffusion.pipeline.Upscaler;
import daguerre.diffusion.pipeline.Upscalers;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.gallery.Gallery;
import daguerre.server.jobs.EmbeddingDescriptor;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobRecord;
import daguerre.server.jobs.JobState;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import daguerre.server.jobs.EngineResult;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

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
            "denoising_strength", "strength", "cache_interval", "cache_interval");

    /** Request fields of A1111's that change the image and that Daguerre does not implement yet. */
    private static final List<String> UNIMPLEMENTED = List.of("script_name", "alwayson_scripts",
            "refiner_checkpoint", "refiner_switch_at", "restore_faces", "tiling", "subseed_strength", "seed_resize_from_w",
            "seed_resize_from_h");
    /** A1111's {@code /sdapi/v1/img2img} defaults for inpainting (its processing class's, not its UI's). */
    private static final int DEFAULT_INPAINTING_FILL = 0;
    private static final boolean DEFAULT_INPAINT_FULL_RES = true;
    private static final int DEFAULT_INPAINT_FULL_RES_PADDING = 0;
    /** A1111's txt2img defaults for the hires fix. */
    private static final double DEFAULT_HR_SCALE = 2.0;
    private static final double DEFAULT_HR_DENOISING_STRENGTH = 0.75;
    /** A schedule {@code scheduler} accepts, as A1111 lists it ({@code defaultRho} -1: none). */
    private record Schedule(String name, String label, double defaultRho) {}

    /** Automatic: the sampler's own sigmas; Karras: the Karras variant of the sampler (rho 7). */
    private static final List<Schedule> SCHEDULES = List.of(new Schedule("automatic", "Automatic", -1),
            new Schedule("karras", "Karras", 7.0));
    /** The options {@code /options} reports. */
    private static final List<String> OPTION_NAMES = List.of("sd_model_checkpoint", "sd_checkpoint_hash",
            A1111Options.CLIP_SKIP, A1111Options.SDXL_CROP_TOP, A1111Options.SDXL_CROP_LEFT, "samples_format", "sd_vae",
            "eta_noise_seed_delta");
    /**
     * The options that only report what Daguerre does: images are PNGs, the VAE is the checkpoint's
     * own ("Automatic", and "None" means the same where there are no separate VAE files), and the
     * noise takes no seed delta.
     */
    private static final List<String> READ_ONLY_OPTIONS = List.of("sd_checkpoint_hash", "samples_format", "sd_vae",
            "eta_noise_seed_delta");

    private final Services services;
    private final A1111Options options;
    /** The generation requests in progress (interrupt marks those whose batch is running). */
    private final Set<Task> tasks = ConcurrentHashMap.newKeySet();

    A1111Api(Services services) {
        this.services = services;
        this.options = services.a1111Options();
    }

    void mount(Router router) {
        router.post("/sdapi/v1/txt2img").blockingHandler(ctx -> generate(ctx, false), false);
        router.post("/sdapi/v1/img2img").blockingHandler(ctx -> generate(ctx, true), false);
        router.get("/sdapi/v1/progress").blockingHandler(this::progress, false);   // a cluster's queue reads PostgreSQL
        router.post("/sdapi/v1/interrupt").handler(this::interrupt);
        router.post("/sdapi/v1/skip").handler(this::skip);
        router.get("/sdapi/v1/samplers").handler(this::samplers);
        router.get("/sdapi/v1/schedulers").handler(this::schedulers);
        router.get("/sdapi/v1/sd-models").handler(this::models);
        router.post("/sdapi/v1/refresh-checkpoints").handler(ctx -> Http.send(ctx, 200, JSON.nullNode()));
        router.get("/sdapi/v1/options").blockingHandler(this::getOptions, false);
        router.post("/sdapi/v1/options").blockingHandler(this::setOptions, false);
        router.post("/sdapi/v1/png-info").blockingHandler(this::pngInfo, false);
        // what front-ends probe when they connect; Daguerre has no VAEs (yet)
        router.get("/internal/ping").handler(ctx -> Http.send(ctx, 200, JSON.createObjectNode()));
        router.get("/sdapi/v1/upscalers").handler(this::upscalers);
        router.get("/sdapi/v1/latent-upscale-modes").handler(this::latentUpscaleModes);
        router.post("/sdapi/v1/extra-single-image").blockingHandler(this::extraSingleImage, false);
        router.get("/sdapi/v1/sd-vae").handler(ctx -> Http.send(ctx, 200, JSON.createArrayNode()));
        router.get("/sdapi/v1/loras").blockingHandler(this::loras, false);
        router.post("/sdapi/v1/refresh-loras").handler(ctx -> Http.send(ctx, 200, JSON.nullNode())); // the folder is read at every request
        router.get("/sdapi/v1/prompt-styles").blockingHandler(ctx -> Http.send(ctx, 200, StylesApi.views(services.styles().list())), false);
        router.get("/sdapi/v1/embeddings").blockingHandler(this::embeddings, false);
        router.post("/sdapi/v1/refresh-embeddings").handler(ctx -> Http.send(ctx, 200, JSON.nullNode())); // read at every request
        router.get("/sdapi/v1/memory").blockingHandler(this::memory, false);
        router.get("/sdapi/v1/cmd-flags").handler(this::commandLineFlags);
    }

    /**
     * {@code GET /sdapi/v1/embeddings}: A1111's {@code {loaded: {name: {...}}, skipped: {name: {...}}}} for
     * the current checkpoint; Daguerre adds each skipped one's reason.
     */
    private void embeddings(RoutingContext ctx) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode loaded = body.putObject("loaded");
        ObjectNode skipped = body.putObject("skipped");
        for (EmbeddingDescriptor e : services.engine().embeddings(currentSettings().modelId())) {
            ObjectNode item = (e.skippedBecause() == null ? loaded : skipped).putObject(e.name());
            item.putNull("step").putNull("sd_checkpoint").putNull("sd_checkpoint_name");
            item.put("shape", e.dim()).put("vectors", e.vectors());
            if (e.skippedBecause() != null) {
                item.put("reason", e.skippedBecause());
            }
        }
        Http.send(ctx, 200, body);
    }

    /** {@code GET /sdapi/v1/loras}: A1111's list, {@code [{name, alias, path, metadata}]}. */
    private void loras(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (LoraDescriptor lora : services.engine().loras()) {
            items.addObject().put("name", lora.name()).put("alias", lora.name()).put("path", lora.path())
                    .set("metadata", JSON.valueToTree(lora.metadata()));
        }
        Http.send(ctx, 200, items);
    }

    /**
     * One A1111 generation request in progress: {@code n_iter} batches of {@code batch_size} images,
     * run one after another (the next is queued when the previous ends), image k over all batches
     * with seed + k, as A1111 numbers them.
     */
    private static final class Task {
        final List<GenerationParams> batches;
        final boolean saveImages;
        final List<Finished> finished = new ArrayList<>();
        final AtomicBoolean interrupted = new AtomicBoolean();
        volatile JobHandle current;

        Task(List<GenerationParams> batches, boolean saveImages) {
            this.batches = batches;
            this.saveImages = saveImages;
        }
    }

    /** A batch of a task that ended, with its images when they were not saved to the gallery. */
    private record Finished(JobRecord record, EngineResult unsaved) {}

    private void generate(RoutingContext ctx, boolean img2img) {
        JsonNode json = Http.body(ctx);
        if (!json.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object");
        }
        ObjectNode body = (ObjectNode) json;
        refuseUnimplemented(body, img2img);
        boolean sendImages = bool(body, "send_images", true);
        boolean saveImages = bool(body, "save_images", false);
        boolean restore = bool(body, "override_settings_restore_afterwards", true);
        JsonNode overrides = body.get("override_settings");
        if (overrides != null && !overrides.isNull() && !overrides.isObject()) {
            throw RequestException.aboutField(400, "invalid_type", "override_settings", "must be an object");
        }
        Settings settings = overrides == null || overrides.isNull() ? currentSettings()
                : applied(currentSettings(), (ObjectNode) overrides);
        int iterations = iterations(body);
        ObjectNode request = toNative(body, img2img, settings);
        StylesApi.applyStyles(request, body.get("styles"), services.styles(), "styles"); // as A1111: to the prompts and the hires prompts
        GenerationParams first;
        try {
            first = services.requests().parse(request, false);
            services.requests().cost(first, (long) first.n() * iterations);   // all n_iter batches, both hires passes
        } catch (RequestException e) {
            throw e.field() == null ? e : e.withField(a1111Field(e.field()));
        }
        List<GenerationParams> batches = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            batches.add(first.withSeed(first.seed() + (long) i * first.n()));
        }
        Task task = new Task(batches, saveImages);
        JobHandle job = services.queue().submitAll(List.of(batches.get(0)), saveImages).get(0);
        if (!restore && overrides != null && overrides.isObject()) {
            store(settings); // override_settings_restore_afterwards: false keeps the overridden options
        }
        ctx.put(ServiceLog.JOB_ID, job.id());
        tasks.add(task);
        Http.onClientGone(ctx, () -> {
            if (services.queue().abandon(task.current.id())) {
                task.interrupted.set(true); // and no further n_iter batch
            }
        });
        CompletableFuture<Void> done = new CompletableFuture<>();
        awaitBatch(task, job, done);
        done.whenComplete((ignored, error) -> services.vertx().executeBlocking(() -> {
            tasks.remove(task);
            if (error != null) {
                throw error instanceof RuntimeException r ? r : new IllegalStateException(error);
            }
            return response(task, body, sendImages);
        }).onSuccess(response -> Http.send(ctx, 200, response)).onFailure(ctx::fail));
    }

    /** Waits for {@code job}, batch {@code task.finished.size()} of the task, then queues the next batch or completes {@code done}. */
    private void awaitBatch(Task task, JobHandle job, CompletableFuture<Void> done) {
        task.current = job;
        services.queue().completion(job.id()).whenComplete((record, error) -> services.vertx().executeBlocking(() -> {
            if (error != null) {
                done.completeExceptionally(error);
                return null;
            }
            task.finished.add(new Finished(record, job.unsavedResult()));
            if (record.state() == JobState.CANCELLED) {
                task.interrupted.set(true);
            }
            int next = task.finished.size();
            if (record.state() != JobState.SUCCEEDED || next == task.batches.size() || task.interrupted.get()) {
                done.complete(null);
                return null;
            }
            try {
                awaitBatch(task, services.queue().submitAll(List.of(task.batches.get(next)), task.saveImages).get(0), done);
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            }
            return null;
        }, false));
    }

    /**
     * Refuses, with A1111's 422 naming the field, a request that asks for something Daguerre does
     * not do yet; the fields' default values (null, false, "", [], {}) pass, since they ask for nothing.
     */
    private static void refuseUnimplemented(ObjectNode body, boolean img2img) {
        List<String> fields = new ArrayList<>(UNIMPLEMENTED);
        body.fieldNames().forEachRemaining(name -> {
            if (name.startsWith("refiner_") && !fields.contains(name)) {
                fields.add(name); // any refiner option: Daguerre has no refiner pass
            }
        });
        for (String field : fields) {
            JsonNode value = body.get(field);
            if (value == null || isDefault(field, value)) {
                continue;
            }
            if (field.equals("mask") && !img2img) {
                continue; // txt2img has no mask: A1111 ignores the field there
            }
            throw RequestException.aboutField(400, "not_implemented", field,
                    "is not implemented by Daguerre yet; leave it out or at its default (got " + abbreviate(value.toString()) + ")");
        }
    }

    private static boolean isDefault(String field, JsonNode value) {
        if (value.isNull() || value.isBoolean() && !value.asBoolean() || value.isTextual() && value.asText().isEmpty()
                || value.isContainerNode() && value.isEmpty()) {
            return true;
        }
        return switch (field) {
            case "subseed_strength" -> value.isNumber() && value.asDouble() == 0;
            case "seed_resize_from_w", "seed_resize_from_h" -> value.isNumber() && value.asDouble() <= 0;
            default -> false;
        };
    }

    private static String abbreviate(String text) {
        return text.length() <= 80 ? text : text.substring(0, 80) + "...";
    }

    /** A boolean field; absent or null: {@code fallback}. */
    private static boolean bool(ObjectNode body, String field, boolean fallback) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isBoolean()) {
            throw RequestException.aboutField(400, "invalid_type", field, "must be true or false");
        }
        return value.asBoolean();
    }

    /** {@code n_iter}: how many batches run one after another, 1 to {@code --max-iterations}. */
    private int iterations(ObjectNode body) {
        JsonNode value = body.get("n_iter");
        if (value == null || value.isNull()) {
            return 1;
        }
        if (!value.isIntegralNumber()) {
            throw RequestException.aboutField(400, "invalid_type", "n_iter", "must be an integer");
        }
        int max = services.requests().limits().maxIterations();
        if (!value.canConvertToInt() || value.asInt() < 1 || value.asInt() > max) {
            throw RequestException.aboutField(400, "out_of_range", "n_iter", "must be between 1 and " + max + ", got " + value.asText());
        }
        return value.asInt();
    }

    /** Maps an A1111 request onto native field names, applying A1111's defaults and the options in effect. */
    private ObjectNode toNative(ObjectNode body, boolean img2img, Settings settings) {
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
            // A1111 rounds down to a multiple of 8; below 8 the value stays, so that its error names what was sent
            JsonNode value = request.get(size);
            if (value != null && value.isIntegralNumber() && value.canConvertToInt() && value.asInt() >= 8) {
                request.put(size, value.asInt() / 8 * 8);
            }
        }
        request.put("sampler", samplerName(body));
        JsonNode batchSize = body.get("batch_size");
        if (batchSize != null && !batchSize.isNull()) {
            request.set("n", batchSize);
        }
        request.put("model", settings.modelId());
        request.put("clip_skip", settings.clipSkip());
        A1111Options.Values values = settings.values();
        if (model(settings.modelId()).isSdxl() && (values.sdxlCropTop() != 0 || values.sdxlCropLeft() != 0)) {
            // A1111 conditions SDXL on the crop options, original and target size being the image's
            request.putObject("micro_conditioning").put("crop_top", values.sdxlCropTop()).put("crop_left", values.sdxlCropLeft());
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
            JsonNode mask = body.get("mask");
            if (mask != null && !mask.isNull() && !(mask.isTextual() && mask.asText().isEmpty())) {
                request.set("mask", mask);
                request.set("mask_blur", body.hasNonNull("mask_blur") ? body.get("mask_blur") : JSON.getNodeFactory().numberNode(4));
                request.put("mask_invert", flag(body, "inpainting_mask_invert", false));
                request.set("inpaint_fill", body.hasNonNull("inpainting_fill") ? body.get("inpainting_fill")
                        : JSON.getNodeFactory().numberNode(DEFAULT_INPAINTING_FILL));
                request.put("inpaint_full_res", flag(body, "inpaint_full_res", DEFAULT_INPAINT_FULL_RES));
                request.set("inpaint_full_res_padding", body.hasNonNull("inpaint_full_res_padding") ? body.get("inpaint_full_res_padding")
                        : JSON.getNodeFactory().numberNode(DEFAULT_INPAINT_FULL_RES_PADDING));
            }
        } else {
            request.remove("strength");
            if (flag(body, "enable_hr", false)) {
                request.set("hires_fix", hiresFix(body));
            }
        }
        return request;
    }

    /** A1111's {@code hr_*} fields (and {@code denoising_strength}) as the native {@code hires_fix} object, with A1111's defaults. */
    private ObjectNode hiresFix(ObjectNode body) {
        ObjectNode hires = JSON.createObjectNode();
        hires.set("scale", body.hasNonNull("hr_scale") ? body.get("hr_scale") : JSON.getNodeFactory().numberNode(DEFAULT_HR_SCALE));
        for (String[] pair : new String[][] {{"hr_resize_x", "width"}, {"hr_resize_y", "height"}, {"hr_second_pass_steps", "steps"},
                {"hr_upscaler", "upscaler"}, {"hr_prompt", "prompt"}, {"hr_negative_prompt", "negative_prompt"}}) {
            if (body.hasNonNull(pair[0])) {
                hires.set(pair[1], body.get(pair[0]));
            }
        }
        hires.set("strength", body.hasNonNull("denoising_strength") ? body.get("denoising_strength")
                : JSON.getNodeFactory().numberNode(DEFAULT_HR_DENOISING_STRENGTH));
        JsonNode sampler = body.get("hr_sampler_name");
        if (sampler != null && !sampler.isNull() && !(sampler.isTextual() && (sampler.asText().isEmpty()
                || sampler.asText().equals("Use same sampler")))) {
            if (!sampler.isTextual()) {
                throw RequestException.aboutField(400, "invalid_type", "hr_sampler_name", "must be a string");
            }
            String chosen = sampler.asText();
            hires.put("sampler", services.engine().samplers().stream()
                    .filter(s -> s.a1111Name().equals(chosen) || s.name().equals(chosen)).map(SamplerDescriptor::name).findFirst()
                    .orElseThrow(() -> new RequestException(400, "unknown_sampler", "sampler not found: " + chosen, "hr_sampler_name")));
        }
        return hires;
    }

    /** A flag A1111 takes as a boolean or as 0/1 (its UI sends integers for some); absent or null: {@code fallback}. */
    private static boolean flag(ObjectNode body, String field, boolean fallback) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (value.isBoolean()) {
            return value.asBoolean();
        }
        if (value.isIntegralNumber() && (value.asLong() == 0 || value.asLong() == 1)) {
            return value.asLong() == 1;
        }
        throw RequestException.aboutField(400, "invalid_type", field, "must be true or false (or 0 or 1)");
    }

    /**
     * {@code sampler_name} (or the older {@code sampler_index}) as an A1111 name; scheduler
     * "Karras" picks the Karras variant, "Automatic" (or none) the sampler's own schedule.
     */
    private String samplerName(ObjectNode body) {
        JsonNode name = body.hasNonNull("sampler_name") ? body.get("sampler_name") : body.get("sampler_index");
        if (name != null && !name.isNull() && !name.isTextual()) {
            throw RequestException.aboutField(400, "invalid_type", "sampler_name", "must be a string");
        }
        String a1111 = name == null || name.isNull() ? DEFAULT_SAMPLER : name.asText();
        JsonNode scheduler = body.get("scheduler");
        if (scheduler != null && !scheduler.isNull()) {
            String schedule = scheduler.asText();
            if (!scheduler.isTextual() || SCHEDULES.stream().noneMatch(known -> known.name().equalsIgnoreCase(schedule))) {
                throw new RequestException(400, "unknown_scheduler", "scheduler not found: " + schedule + " (Daguerre has "
                        + String.join(", ", SCHEDULES.stream().map(Schedule::label).toList()) + ")", "scheduler");
            }
            if (schedule.equalsIgnoreCase("karras") && !a1111.endsWith("Karras")) {
                a1111 = a1111 + " Karras";
            }
        }
        String chosen = a1111;
        return services.engine().samplers().stream().filter(s -> s.a1111Name().equals(chosen) || s.name().equals(chosen))
                .map(SamplerDescriptor::name).findFirst()
                .orElseThrow(() -> new RequestException(400, "unknown_sampler", "sampler not found: " + chosen, "sampler_name"));
    }

    /** A model id from A1111's checkpoint title ({@code name [hash]}), name, file name or hash. */
    private String modelId(String title) {
        return modelId(title, "sd_model_checkpoint");
    }

    private String modelId(String title, String field) {
        for (ModelDescriptor model : services.engine().models()) {
            if (title.equals(title(model)) || title.equals(model.name()) || title.equals(model.id()) || title.equals(model.hash())
                    || title.startsWith(model.id() + ".")) {
                return model.id();
            }
        }
        throw new RequestException(404, "model_not_found", "model not found: " + title, field);
    }

    private static String a1111Field(String nativeField) {
        return switch (nativeField) {
            case "guidance_scale" -> "cfg_scale";
            case "sampler" -> "sampler_name";
            case "strength" -> "denoising_strength";
            case "init_image" -> "init_images";
            case "n" -> "batch_size";
            case "model" -> "sd_model_checkpoint";
            case "clip_skip" -> A1111Options.CLIP_SKIP;
            case "mask_invert" -> "inpainting_mask_invert";
            case "inpaint_fill" -> "inpainting_fill";
            case "hires_fix" -> "enable_hr";
            case "hires_fix.scale" -> "hr_scale";
            case "hires_fix.width" -> "hr_resize_x";
            case "hires_fix.height" -> "hr_resize_y";
            case "hires_fix.upscaler" -> "hr_upscaler";
            case "hires_fix.steps" -> "hr_second_pass_steps";
            case "hires_fix.strength" -> "denoising_strength";
            case "hires_fix.sampler" -> "hr_sampler_name";
            case "hires_fix.prompt" -> "hr_prompt";
            case "hires_fix.negative_prompt" -> "hr_negative_prompt";
            default -> nativeField;
        };
    }

    private ObjectNode response(Task task, ObjectNode requestBody, boolean sendImages) throws IOException, SQLException {
        for (Finished batch : task.finished) {
            if (batch.record().state() == JobState.FAILED) {
                throw new RequestException(500, batch.record().errorCode(), "generation failed: " + batch.record().errorMessage(), null);
            }
        }
        ObjectNode response = JSON.createObjectNode();
        ArrayNode images = response.putArray("images");
        ArrayNode seeds = JSON.createArrayNode();
        ArrayNode infotexts = JSON.createArrayNode();
        for (Finished batch : task.finished) {
            if (batch.unsaved() != null) {
                // the same PNG the gallery would have stored: with the request chunk beside the infotext
                String request = GenerationRequests.toJson(batch.record().params()).put("job_id", batch.record().id()).toString();
                for (EngineResult.Image image : batch.unsaved().images()) {
                    if (sendImages) {
                        images.add(Base64.getEncoder().encodeToString(PngText.withText(image.png(), Gallery.REQUEST_CHUNK, request)));
                    }
                    seeds.add(image.seed());
                    infotexts.add(image.infotext());
                }
                continue;
            }
            for (String id : batch.record().imageIds()) {
                var entry = services.gallery().find(id).orElseThrow();
                if (sendImages) {
                    images.add(Base64.getEncoder().encodeToString(services.gallery().png(id).orElseThrow()));
                }
                seeds.add(entry.seed());
                infotexts.add(entry.infotext());
            }
        }
        response.set("parameters", requestBody);
        JobRecord job = task.finished.get(0).record();
        GenerationParams p = task.batches.get(0);
        ModelDescriptor model = services.engine().models().stream().filter(m -> m.id().equals(p.model())).findFirst().orElseThrow();
        // as A1111: prompt and negative_prompt as sent, all_prompts (and the infotexts) with the styles applied
        ObjectNode info = JSON.createObjectNode().put("prompt", requestBody.path("prompt").asText(""))
                .put("negative_prompt", requestBody.path("negative_prompt").asText(""))
                .put("seed", p.seed()).put("width", p.width()).put("height", p.height())
                .put("sampler_name", a1111Sampler(p.sampler())).put("cfg_scale", p.guidanceScale()).put("steps", p.steps())
                .put("batch_size", p.n()).put("n_iter", task.batches.size()).put("clip_skip", p.clipSkip())
                .put("sd_model_name", model.name()).put("sd_model_hash", model.hash()).put("job_timestamp", Http.time(job.createdAt()))
                .put("interrupted", task.interrupted.get());
        ArrayNode prompts = info.putArray("all_prompts");
        ArrayNode negativePrompts = info.putArray("all_negative_prompts");
        seeds.forEach(s -> {
            prompts.add(p.prompt());
            negativePrompts.add(p.negativePrompt());
        });
        info.set("styles", requestBody.hasNonNull("styles") ? requestBody.get("styles") : JSON.createArrayNode());
        info.set("all_seeds", seeds);
        info.set("infotexts", infotexts);
        if (p.initImage() != null) {
            info.put("denoising_strength", p.strength());
        } else if (p.hiresFix() != null) {
            info.put("denoising_strength", p.hiresFix().denoisingStrength());
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

    /**
     * {@code GET /sdapi/v1/upscalers}: every upscaler the hires fix takes ({@link Upscalers#names()}), in
     * A1111's shape. None is a learned model; "Latent ..." ones work on latents only (the hires fix), the
     * others on pictures too ({@code /sdapi/v1/extra-single-image}).
     */
    private void upscalers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (String name : Upscalers.names()) {
            items.addObject().put("name", name).putNull("model_name").putNull("model_path").putNull("model_url").put("scale", 4.0);
        }
        Http.send(ctx, 200, items);
    }

    /** {@code GET /sdapi/v1/latent-upscale-modes}: the latent upscalers, as A1111 lists them ({@code [{name}]}). */
    private void latentUpscaleModes(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (String name : Upscalers.names()) {
            if (Upscalers.find(name).orElseThrow() instanceof Upscaler.Latent) {
                items.addObject().put("name", name);
            }
        }
        Http.send(ctx, 200, items);
    }

    /** The largest picture {@code extra-single-image} makes. */
    private static final long MAX_EXTRAS_PIXELS = 16_000_000;

    /**
     * {@code POST /sdapi/v1/extra-single-image}: upscales {@code image} with a pixel upscaler
     * ({@code upscaler_1}), by {@code upscaling_resize} ({@code resize_mode} 0) or to cover
     * {@code upscaling_resize_w} x {@code upscaling_resize_h} ({@code resize_mode} 1, cropped centrally
     * when {@code upscaling_crop}), each side rounded down to a multiple of 8 as A1111's upscalers do.
     * Answers A1111's {@code {html_info, image}}. Face restoration and a second upscaler are not there.
     */
    private void extraSingleImage(RoutingContext ctx) {
        JsonNode json = Http.body(ctx);
        if (!json.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object");
        }
        ObjectNode body = (ObjectNode) json;
        for (String field : List.of("gfpgan_visibility", "codeformer_visibility", "extras_upscaler_2_visibility")) {
            JsonNode value = body.get(field);
            if (value != null && !value.isNull() && !(value.isNumber() && value.asDouble() == 0)) {
                throw RequestException.aboutField(400, "not_implemented", field, "is not implemented by Daguerre yet; leave it at 0");
            }
        }
        JsonNode imageField = body.get("image");
        if (imageField == null || !imageField.isTextual() || imageField.asText().isEmpty()) {
            throw new RequestException(400, "missing_field", "image must be a base64 image", "image");
        }
        BufferedImage image = GenerationRequests.decodeImage(imageField.asText(), "image", MAX_EXTRAS_PIXELS).image();
        String name = body.path("upscaler_1").isTextual() ? body.get("upscaler_1").asText() : "None";
        Upscaler upscaler = Upscalers.find(name).orElseThrow(() -> new RequestException(400, "unknown_upscaler",
                "upscaler_1: upscaler not found: " + name + " (upscalers: " + String.join(", ", Upscalers.names()) + ")", "upscaler_1"));
        if (!(upscaler instanceof Upscaler.Pixel pixel)) {
            throw RequestException.aboutField(400, "invalid_value", "upscaler_1", "is " + name
                    + ", a latent upscaler: it works in the hires fix only; pick a pixel one (" + String.join(", ", pixelUpscalers()) + ")");
        }
        int mode = body.path("resize_mode").asInt(0);
        if (mode != 0 && mode != 1) {
            throw RequestException.aboutField(400, "out_of_range", "resize_mode", "must be 0 (by upscaling_resize) or 1 (to upscaling_resize_w x h)");
        }
        double scale;
        int cropW = 0;
        int cropH = 0;
        if (mode == 0) {
            scale = number(body, "upscaling_resize", 2, 1, HiresFix.MAX_SCALE);
        } else {
            cropW = (int) number(body, "upscaling_resize_w", 512, 8, HiresFix.MAX_RESIZE);
            cropH = (int) number(body, "upscaling_resize_h", 512, 8, HiresFix.MAX_RESIZE);
            scale = Math.max((double) cropW / image.getWidth(), (double) cropH / image.getHeight());
        }
        int width = (int) (image.getWidth() * scale) / 8 * 8;
        int height = (int) (image.getHeight() * scale) / 8 * 8;
        if (width < 8 || height < 8 || (long) width * height > MAX_EXTRAS_PIXELS) {
            throw new RequestException(400, "image_too_large", "the upscaled image would be " + width + "x" + height
                    + "; it must be at least 8x8 and at most " + MAX_EXTRAS_PIXELS + " pixels", mode == 0 ? "upscaling_resize" : "upscaling_resize_w");
        }
        BufferedImage rgb = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
        rgb.getGraphics().drawImage(image, 0, 0, null);
        BufferedImage result = pixel.upscale(rgb, width, height);
        if (mode == 1 && body.path("upscaling_crop").asBoolean(true) && (width != cropW || height != cropH)) {
            BufferedImage cropped = new BufferedImage(cropW, cropH, BufferedImage.TYPE_INT_RGB);
            cropped.getGraphics().drawImage(result, cropW / 2 - width / 2, cropH / 2 - height / 2, null); // as A1111's paste
            result = cropped;
        }
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        try {
            javax.imageio.ImageIO.write(result, "png", png);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the upscaled image", e);
        }
        Http.send(ctx, 200, JSON.createObjectNode().put("html_info", "<p>Upscale: " + Infotext.number(scale) + ", Upscaler: "
                + pixel.name() + "</p>").put("image", Base64.getEncoder().encodeToString(png.toByteArray())));
    }

    private static boolean isJpeg(byte[] bytes) {
        return bytes.length >= 2 && (bytes[0] & 0xff) == 0xff && (bytes[1] & 0xff) == 0xd8;
    }

    private static List<String> pixelUpscalers() {
        return Upscalers.names().stream().filter(n -> Upscalers.find(n).orElseThrow() instanceof Upscaler.Pixel).toList();
    }

    private static double number(ObjectNode body, String field, double fallback, double min, double max) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isNumber() || !(value.asDouble() >= min && value.asDouble() <= max)) {
            throw RequestException.aboutField(400, "out_of_range", field, "must be a number between " + Infotext.number(min) + " and "
                    + Infotext.number(max) + ", got " + abbreviate(value.toString()));
        }
        return value.asDouble();
    }

    /** A1111's progress: the running job's fraction done, ETA and latest preview. */
    private void progress(RoutingContext ctx) {
        List<? extends JobHandle> running = services.queue().runningJobs();
        ObjectNode body = JSON.createObjectNode();
        ObjectNode state = JSON.createObjectNode();
        if (running.isEmpty()) {
            body.put("progress", 0.0).put("eta_relative", 0.0);
            state.put("job", "").put("job_count", 0).put("sampling_step", 0).put("sampling_steps", 0).put("interrupted", false);
        } else {
            JobHandle job = running.get(0);
            int total = job.totalSteps(); // the engine's count: both passes of a hires fix
            Long eta = services.queue().etaMs(job.id());
            body.put("progress", (double) job.step() / total).put("eta_relative", eta == null ? 0.0 : eta / 1000.0);
            state.put("job", job.id()).put("job_count", running.size() + services.queue().depth())
                    .put("sampling_step", job.step()).put("sampling_steps", total)
                    .put("interrupted", job.cancelRequested() || job.finishEarlyRequested());
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

    /**
     * A1111's interrupt: the running batches of A1111 requests stop denoising and finish with their
     * images as they stand, and their requests queue no further batch ({@code n_iter}). Jobs of the
     * other APIs are left alone (they have their own cancel).
     */
    private void interrupt(RoutingContext ctx) {
        for (Task task : tasks) {
            JobHandle current = task.current;
            if (current != null && services.queue().finishEarly(current.id())) {
                task.interrupted.set(true);
            }
        }
        Http.send(ctx, 200, JSON.createObjectNode());
    }

    /** A1111's skip: the running batches of A1111 requests finish early as on interrupt, and their requests go on with the next. */
    private void skip(RoutingContext ctx) {
        for (Task task : tasks) {
            JobHandle current = task.current;
            if (current != null) {
                services.queue().finishEarly(current.id());
            }
        }
        Http.send(ctx, 200, JSON.createObjectNode());
    }

    /** The schedules {@code scheduler} accepts, in A1111's shape. */
    private void schedulers(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        for (Schedule schedule : SCHEDULES) {
            items.addObject().put("name", schedule.name()).put("label", schedule.label()).putNull("aliases")
                    .put("default_rho", schedule.defaultRho()).put("need_inner_model", false);
        }
        Http.send(ctx, 200, items);
    }

    /** Memory in A1111's shape: the machine's RAM, and the accelerator's where DJL can read it. */
    private void memory(RoutingContext ctx) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode ram = body.putObject("ram");
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long total = os.getTotalMemorySize();
            long free = os.getFreeMemorySize();
            ram.put("free", free).put("used", total - free).put("total", total);
        } else {
            ram.put("error", "unavailable");
        }
        ObjectNode cuda = body.putObject("cuda");
        try {
            if (ai.djl.util.cuda.CudaUtils.getGpuCount() > 0) {
                MemoryUsage usage = ai.djl.util.cuda.CudaUtils.getGpuMemory(ai.djl.Device.gpu());
                long total = usage.getMax();
                long used = usage.getCommitted();
                cuda.putObject("system").put("free", total - used).put("used", used).put("total", total);
            } else {
                cuda.put("error", "no CUDA device");
            }
        } catch (RuntimeException | LinkageError e) {
            cuda.put("error", "unavailable: " + e.getMessage());
        }
        Http.send(ctx, 200, body);
    }

    /** The A1111 command-line flags that have a Daguerre counterpart, with Daguerre's values (never credentials). */
    private void commandLineFlags(RoutingContext ctx) {
        var config = services.config();
        ObjectNode flags = JSON.createObjectNode().put("api", true).put("nowebui", false)
                .put("listen", !config.host().equals("127.0.0.1") && !config.host().equals("localhost"))
                .put("server_name", config.host()).put("port", config.port())
                .put("data_dir", config.dataDir().toAbsolutePath().toString())
                .put("api_log", true);
        if (config.models().isEmpty()) {
            flags.putNull("ckpt");
        } else {
            flags.put("ckpt", config.models().get(0).toString());
        }
        if (config.corsOrigins().isEmpty()) {
            flags.putNull("cors_allow_origins");
        } else {
            flags.put("cors_allow_origins", String.join(",", config.corsOrigins()));
        }
        Http.send(ctx, 200, flags);
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

    /** The values of the options a generation reads: the model and the A1111 options file's. */
    private record Settings(String modelId, A1111Options.Values values) {

        Settings withModel(String id) {
            return new Settings(id, values);
        }

        Settings withClipSkip(int value) {
            return new Settings(modelId, new A1111Options.Values(value, values.sdxlCropTop(), values.sdxlCropLeft()));
        }

        Settings withSdxlCrop(int top, int left) {
            return new Settings(modelId, new A1111Options.Values(values.clipSkip(), top, left));
        }

        int clipSkip() {
            return values.clipSkip();
        }
    }

    private Settings currentSettings() {
        try {
            return new Settings(services.options().defaultModel(), options.values());
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read options: " + e.getMessage(), e);
        }
    }

    private ModelDescriptor model(String id) {
        return services.engine().models().stream().filter(m -> m.id().equals(id)).findFirst().orElseThrow();
    }

    /** Every option {@code /options} reports, with its value under {@code settings}. */
    private ObjectNode optionValues(Settings settings) {
        ModelDescriptor model = model(settings.modelId());
        return JSON.createObjectNode().put("sd_model_checkpoint", title(model)).put("sd_checkpoint_hash", model.hash())
                .put(A1111Options.CLIP_SKIP, settings.clipSkip()).put(A1111Options.SDXL_CROP_TOP, settings.values().sdxlCropTop())
                .put(A1111Options.SDXL_CROP_LEFT, settings.values().sdxlCropLeft()).put("samples_format", "png").put("sd_vae", "Automatic")
                .put("eta_noise_seed_delta", 0);
    }

    /**
     * {@code settings} with {@code changes} (option name to value) applied, each checked: settable
     * options must hold a valid value, read-only ones may only be given the value they have (422
     * naming the option otherwise), and unknown options are refused. A null value changes nothing.
     */
    private Settings applied(Settings settings, ObjectNode changes) {
        Settings result = settings;
        for (var entry : changes.properties()) {
            String name = entry.getKey();
            JsonNode value = entry.getValue();
            if (value.isNull()) {
                continue;
            }
            switch (name) {
                case "sd_model_checkpoint" -> {
                    if (!value.isTextual()) {
                        throw RequestException.aboutField(400, "invalid_type", name, "must be a string");
                    }
                    result = result.withModel(modelId(value.asText(), name));
                }
                case A1111Options.CLIP_SKIP -> {
                    if (!value.isIntegralNumber() || value.asLong() < A1111Options.MIN_CLIP_SKIP
                            || value.asLong() > A1111Options.MAX_CLIP_SKIP) {
                        throw RequestException.aboutField(400, "out_of_range", name, "must be an integer from "
                                + A1111Options.MIN_CLIP_SKIP + " to " + A1111Options.MAX_CLIP_SKIP + ", got " + value);
                    }
                    result = result.withClipSkip(value.asInt());
                }
                case A1111Options.SDXL_CROP_TOP, A1111Options.SDXL_CROP_LEFT -> {
                    if (!value.isIntegralNumber() || value.asLong() < 0 || value.asLong() > A1111Options.MAX_CROP) {
                        throw RequestException.aboutField(400, "out_of_range", name, "must be an integer from 0 to "
                                + A1111Options.MAX_CROP + ", got " + value);
                    }
                    boolean top = name.equals(A1111Options.SDXL_CROP_TOP);
                    result = result.withSdxlCrop(top ? value.asInt() : result.values().sdxlCropTop(),
                            top ? result.values().sdxlCropLeft() : value.asInt());
                }
                default -> {
                    if (!READ_ONLY_OPTIONS.contains(name)) {
                        throw RequestException.aboutField(400, "unknown_option", name,
                                "is not an option Daguerre has (it has " + String.join(", ", OPTION_NAMES) + ")");
                    } // a read-only option: checked below, against the final model
                }
            }
        }
        ObjectNode values = optionValues(result);
        for (String readOnly : READ_ONLY_OPTIONS) {
            JsonNode value = changes.get(readOnly);
            if (value != null && !value.isNull() && !sameValue(readOnly, value, values.get(readOnly))) {
                throw RequestException.aboutField(400, "read_only_option", readOnly, "is read-only in Daguerre: it is "
                        + values.get(readOnly) + " and cannot be set to " + abbreviate(value.toString()));
            }
        }
        return result;
    }

    private static boolean sameValue(String option, JsonNode given, JsonNode current) {
        if (given.isNumber() && current.isNumber()) {
            return given.asDouble() == current.asDouble();
        }
        return given.equals(current) || option.equals("sd_vae") && given.isTextual() && given.asText().equals("None");
    }

    /** Makes {@code settings} the stored options. */
    private void store(Settings settings) {
        try {
            synchronized (options) {
                if (!settings.modelId().equals(services.options().defaultModel())) {
                    services.options().setDefaultModel(settings.modelId());
                }
                if (!settings.values().equals(options.values())) {
                    options.set(settings.values());
                }
            }
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("cannot store options: " + e.getMessage(), e);
        }
    }

    private void getOptions(RoutingContext ctx) {
        Http.send(ctx, 200, optionValues(currentSettings()));
    }

    /** Sets the options given, all or none (each checked first), and keeps them across restarts. */
    private void setOptions(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        if (!body.isObject()) {
            throw RequestException.invalid(null, "the request body must be a JSON object of options");
        }
        store(applied(currentSettings(), (ObjectNode) body));
        Http.send(ctx, 200, JSON.nullNode());
    }

    /**
     * The text chunks of a PNG (or a JPEG's EXIF user comment, as A1111 stores it there); {@code info} is its
     * {@code parameters} infotext, {@code parameters} that text parsed.
     */
    private void pngInfo(RoutingContext ctx) {
        JsonNode image = Http.body(ctx).get("image");
        if (image == null || !image.isTextual() || image.asText().isEmpty()) {
            throw new RequestException(400, "missing_field", "image must be a base64 PNG", "image");
        }
        String text = image.asText();
        String data = text.startsWith("data:") && text.indexOf(',') > 0 ? text.substring(text.indexOf(',') + 1) : text;
        Map<String, String> chunks;
        try {
            byte[] bytes = Base64.getMimeDecoder().decode(data);
            chunks = isJpeg(bytes) ? JpegText.read(bytes).map(comment -> Map.of("parameters", comment)).orElse(Map.of()) : PngText.read(bytes);
        } catch (IllegalArgumentException | IOException e) {
            throw new RequestException(400, "invalid_value", "image is not a base64 PNG or JPEG", "image");
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
