package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.gallery.ImageEntry;
import daguerre.server.gallery.ImagePage;
import daguerre.server.gallery.ImageQuery;
import daguerre.server.jobs.RequestException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Map;

/** The gallery routes: search, image, thumbnail, metadata, favourite, delete. */
final class GalleryApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DEFAULT_LIMIT = 50;
    private static final int MAX_LIMIT = 200;

    private final Services services;

    GalleryApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.get("/api/v1/images").blockingHandler(this::list, false);
        router.get("/api/v1/images/:id").blockingHandler(this::png, false);
        router.get("/api/v1/images/:id/thumbnail").blockingHandler(this::thumbnail, false);
        router.get("/api/v1/images/:id/metadata").blockingHandler(this::metadata, false);
        router.patch("/api/v1/images/:id").blockingHandler(this::patch, false);
        router.delete("/api/v1/images/:id").blockingHandler(this::delete, false);
    }

    private void list(RoutingContext ctx) {
        ImageQuery query = new ImageQuery(param(ctx, "q"), bool(ctx, "favorite"), param(ctx, "model"), param(ctx, "sampler"),
                time(ctx, "from"), time(ctx, "to"), param(ctx, "cursor"), limit(ctx));
        ImagePage page = call(() -> services.gallery().list(query));
        ArrayNode items = JSON.createArrayNode();
        page.items().forEach(entry -> items.add(summary(entry)));
        ObjectNode body = JSON.createObjectNode();
        body.set("items", items);
        body.put("next_cursor", page.nextCursor());
        Http.send(ctx, 200, body);
    }

    private void png(RoutingContext ctx) {
        sendPng(ctx, call(() -> services.gallery().file(ctx.pathParam("id"))).orElseThrow(() -> notFound(ctx)));
    }

    private void thumbnail(RoutingContext ctx) {
        sendPng(ctx, call(() -> services.gallery().thumbnail(ctx.pathParam("id"))).orElseThrow(() -> notFound(ctx)));
    }

    /** Sends an immutable PNG file, unless the client went away meanwhile (a browser dropping a thumbnail). */
    private static void sendPng(RoutingContext ctx, Path file) {
        if (ctx.response().closed()) {
            return;
        }
        ctx.response().putHeader("Content-Type", "image/png").putHeader("Content-Encoding", "identity")
                .putHeader("Cache-Control", "private, max-age=31536000, immutable")
                .sendFile(file.toString());
    }

    private void metadata(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        ImageEntry entry = call(() -> services.gallery().find(id)).orElseThrow(() -> notFound(ctx));
        byte[] png = call(() -> services.gallery().png(id)).orElseThrow(() -> notFound(ctx));
        ObjectNode body = summary(entry);
        body.put("infotext", entry.infotext());
        // the infotext's "Key: value" fields, in its order, as /sdapi/v1/png-info parses them
        ObjectNode fields = body.putObject("infotext_parameters");
        Infotext.parse(entry.infotext()).parameters().forEach(fields::put);
        body.set("request", call(() -> JSON.readTree(entry.request())));
        ObjectNode chunks = body.putObject("png_text");
        Map<String, String> texts = call(() -> PngText.read(png));
        texts.forEach(chunks::put);
        Http.send(ctx, 200, body);
    }

    private void patch(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        JsonNode favorite = body.get("favorite");
        if (!body.isObject() || favorite == null) {
            throw new RequestException(400, "missing_field", "favorite is required", "favorite");
        }
        if (!favorite.isBoolean()) {
            throw new RequestException(400, "invalid_type", "favorite must be true or false", "favorite");
        }
        String id = ctx.pathParam("id");
        if (!call(() -> services.gallery().setFavorite(id, favorite.asBoolean()))) {
            throw notFound(ctx);
        }
        Http.send(ctx, 200, summary(call(() -> services.gallery().find(id)).orElseThrow(() -> notFound(ctx))));
    }

    private void delete(RoutingContext ctx) {
        if (!call(() -> services.gallery().delete(ctx.pathParam("id")))) {
            throw notFound(ctx);
        }
        ctx.response().setStatusCode(204).end();
    }

    private static ObjectNode summary(ImageEntry entry) {
        String self = "/api/v1/images/" + entry.id();
        ObjectNode json = JSON.createObjectNode().put("id", entry.id()).put("job_id", entry.jobId()).put("prompt", entry.prompt())
                .put("negative_prompt", entry.negativePrompt()).put("created_at", Http.time(entry.createdAt()))
                .put("width", entry.width()).put("height", entry.height()).put("favorite", entry.favorite())
                .put("model", entry.model()).put("sampler", entry.sampler()).put("seed", entry.seed()).put("steps", entry.steps())
                .put("guidance_scale", entry.guidanceScale());
        json.putObject("links").put("image", self).put("thumbnail", self + "/thumbnail").put("metadata", self + "/metadata");
        return json;
    }

    private static RequestException notFound(RoutingContext ctx) {
        return RequestException.notFound("image " + ctx.pathParam("id"));
    }

    private static String param(RoutingContext ctx, String name) {
        String value = ctx.request().getParam(name);
        return value == null || value.isBlank() ? null : value;
    }

    private static Boolean bool(RoutingContext ctx, String name) {
        String value = param(ctx, name);
        if (value == null) {
            return null;
        }
        return switch (value) {
            case "true", "1" -> true;
            case "false", "0" -> false;
            default -> throw RequestException.invalid(name, name + " must be true or false, got " + value);
        };
    }

    /** An ISO-8601 instant ({@code 2026-01-31T12:00:00Z}) or date ({@code 2026-01-31}, midnight UTC). */
    private static Long time(RoutingContext ctx, String name) {
        String value = param(ctx, name);
        if (value == null) {
            return null;
        }
        try {
            return value.length() == 10 ? LocalDate.parse(value).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli()
                    : Instant.parse(value).toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException e) {   // ArithmeticException: beyond epoch milliseconds
            throw RequestException.invalid(name, name + " must be an ISO-8601 date or instant between years -292275055 and"
                    + " 292278994, got " + ServiceLog.printable(value));
        }
    }

    private static int limit(RoutingContext ctx) {
        String value = param(ctx, "limit");
        if (value == null) {
            return DEFAULT_LIMIT;
        }
        int limit = value.matches("\\d{1,4}") ? Integer.parseInt(value) : -1;
        if (limit < 1 || limit > MAX_LIMIT) {
            throw RequestException.invalid("limit", "limit must be an integer between 1 and " + MAX_LIMIT + ", got " + value);
        }
        return limit;
    }

    @FunctionalInterface
    private interface Io<T> {
        T get() throws IOException, SQLException;
    }

    private static <T> T call(Io<T> work) {
        try {
            return work.get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (SQLException e) {
            throw new IllegalStateException("gallery database error: " + e.getMessage(), e);
        }
    }
}
