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
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.RequestException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.text.Normalizer;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The gallery routes: search, image, thumbnail, metadata, favourite, board, delete; the same
 * changes on many images at once ({@code POST /api/v1/images/bulk}), and a zip of many images
 * streamed as it is made ({@code POST /api/v1/images/zip}). The board routes are {@link BoardsApi}.
 */
final class GalleryApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DEFAULT_LIMIT = 50;
    private static final int MAX_LIMIT = 200;
    /** The most images one bulk change or zip takes. */
    static final int MAX_IDS = 1000;
    /** The most characters of the prompt in the name of a zip entry. */
    private static final int ZIP_NAME_PROMPT_CHARS = 48;

    /** What {@code POST /api/v1/images/bulk} does to its images. */
    private enum BulkAction {
        DELETE, FAVORITE, UNFAVORITE, MOVE;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Services services;

    GalleryApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.get("/api/v1/images").blockingHandler(this::list, false);
        // before /api/v1/images/:id; none of these names is an image id (20 characters)
        router.get("/api/v1/images/sizes").blockingHandler(this::sizes, false);
        router.post("/api/v1/images/bulk").blockingHandler(this::bulk, false);
        router.post("/api/v1/images/zip").blockingHandler(this::zip, false);
        router.get("/api/v1/images/:id").blockingHandler(this::png, false);
        router.get("/api/v1/images/:id/thumbnail").blockingHandler(this::thumbnail, false);
        router.get("/api/v1/images/:id/metadata").blockingHandler(this::metadata, false);
        router.patch("/api/v1/images/:id").blockingHandler(this::patch, false);
        router.delete("/api/v1/images/:id").blockingHandler(this::delete, false);
    }

    private void list(RoutingContext ctx) {
        ImageQuery query = new ImageQuery(param(ctx, "q"), bool(ctx, "favorite"), param(ctx, "model"), param(ctx, "sampler"),
                pixels(ctx, "width"), pixels(ctx, "height"), boardFilter(ctx), time(ctx, "from"), time(ctx, "to"), order(ctx),
                param(ctx, "cursor"), limit(ctx));
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

    private void sizes(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        call(() -> services.gallery().sizes()).forEach(size ->
                items.addObject().put("width", size.width()).put("height", size.height()).put("count", size.count()));
        Http.send(ctx, 200, JSON.createObjectNode().set("items", items));
    }

    /** {@code {favorite?, board?}}: at least one; {@code board} is a board id, or null for none. */
    private void patch(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        if (!body.isObject() || (!body.has("favorite") && !body.has("board"))) {
            throw new RequestException(400, "missing_field", "favorite or board is required", "favorite");
        }
        JsonNode favorite = body.get("favorite");
        if (favorite != null && !favorite.isBoolean()) {
            throw new RequestException(400, "invalid_type", "favorite must be true or false", "favorite");
        }
        String board = body.has("board") ? existingBoard(body.get("board")) : null;
        String id = ctx.pathParam("id");
        List<String> ids = List.of(id);
        if (!call(() -> services.gallery().missing(ids)).isEmpty()) {
            throw notFound(ctx);
        }
        if (favorite != null) {
            call(() -> services.gallery().setFavorite(ids, favorite.asBoolean()));
        }
        if (body.has("board")) {
            call(() -> services.gallery().setBoard(ids, board));
        }
        Http.send(ctx, 200, summary(call(() -> services.gallery().find(id)).orElseThrow(() -> notFound(ctx))));
    }

    private void delete(RoutingContext ctx) {
        if (!call(() -> services.gallery().delete(ctx.pathParam("id")))) {
            throw notFound(ctx);
        }
        ctx.response().setStatusCode(204).end();
    }

    /**
     * {@code {ids, action: delete|favorite|unfavorite|move, board}} ({@code board} only with
     * {@code move}: a board id, or null for none): one change to every image, in one transaction,
     * after every id was found (404 naming the unknown ones, and nothing changed).
     */
    private void bulk(RoutingContext ctx) {
        JsonNode body = Http.body(ctx);
        List<String> ids = existingIds(body);
        JsonNode actionNode = body.get("action");
        if (actionNode == null || actionNode.isNull()) {
            throw new RequestException(400, "missing_field", "action is required: delete, favorite, unfavorite or move", "action");
        }
        String actionName = actionNode.isTextual() ? actionNode.asText() : "";
        BulkAction action = Arrays.stream(BulkAction.values()).filter(a -> a.wireName().equals(actionName)).findFirst()
                .orElseThrow(() -> RequestException.invalidField("action", "must be one of delete, favorite, unfavorite, move"));
        if (action == BulkAction.MOVE && !body.has("board")) {
            throw new RequestException(400, "missing_field", "board is required with move: a board id, or null for none", "board");
        }
        if (action != BulkAction.MOVE && body.has("board")) {
            throw RequestException.invalidField("board", "is only taken with the action move");
        }
        String board = action == BulkAction.MOVE ? existingBoard(body.get("board")) : null;
        int count = call(() -> switch (action) {
            case DELETE -> services.gallery().delete(ids);
            case FAVORITE -> services.gallery().setFavorite(ids, true);
            case UNFAVORITE -> services.gallery().setFavorite(ids, false);
            case MOVE -> services.gallery().setBoard(ids, board);
        });
        Http.send(ctx, 200, JSON.createObjectNode().put("action", action.wireName()).put("count", count));
    }

    /** One image of a zip: its entry's name, its file and when it was made. */
    private record ZipItem(String name, Path file, long createdAt) {}

    /**
     * {@code {ids}}: a zip of those images' PNGs, byte for byte as stored, streamed as it is
     * written (no temporary file). Every id is checked first: an unknown one is a 404 before any
     * byte is sent. An image deleted while the zip streams breaks the connection, so the client
     * sees a failed download rather than a zip without it.
     */
    private void zip(RoutingContext ctx) {
        List<String> ids = existingIds(Http.body(ctx));
        List<ZipItem> items = new ArrayList<>();
        for (String id : ids) {
            ImageEntry entry = call(() -> services.gallery().find(id)).orElseThrow(() -> imagesNotFound(List.of(id)));
            Path file = call(() -> services.gallery().file(id)).orElseThrow(() -> imagesNotFound(List.of(id)));
            items.add(new ZipItem(zipEntryName(entry), file, entry.createdAt()));
        }
        if (ctx.response().closed()) {
            return;
        }
        ctx.response().setStatusCode(200).putHeader("Content-Type", "application/zip").putHeader("Content-Encoding", "identity")
                .putHeader("Content-Disposition", "attachment; filename=\"daguerre-" + items.size() + "-images.zip\"")
                .putHeader("Cache-Control", "no-store");
        ResponseOutputStream out = new ResponseOutputStream(ctx.response());
        ZipOutputStream zip = new ZipOutputStream(out);
        boolean complete = false;
        try {
            for (ZipItem item : items) {
                byte[] png = Files.readAllBytes(item.file());
                // PNGs are compressed already: stored, not deflated again
                ZipEntry entry = new ZipEntry(item.name());
                CRC32 crc = new CRC32();
                crc.update(png);
                entry.setMethod(ZipEntry.STORED);
                entry.setSize(png.length);
                entry.setCompressedSize(png.length);
                entry.setCrc(crc.getValue());
                entry.setTime(item.createdAt());
                zip.putNextEntry(entry);
                zip.write(png);
                zip.closeEntry();
            }
            zip.finish();
            complete = true;
        } catch (IOException e) {
            // a file deleted meanwhile, or the client went away: handled below
        } finally {
            if (!complete) {
                // the status line may be gone: the one way left to say "failed" is to break the connection
                out.abort();
            }
            try {
                zip.close();   // sends the rest and ends the response (nothing, once aborted)
            } catch (IOException e) {
                // the client went away at the very end
            }
        }
    }

    /** {@code <prompt in lowercase ASCII words>-<id>.png}, or {@code image-<id>.png} for a prompt without letters or digits. */
    private static String zipEntryName(ImageEntry entry) {
        String ascii = Normalizer.normalize(entry.prompt() == null ? "" : entry.prompt(), Normalizer.Form.NFKD)
                .toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
        String words = ascii.length() <= ZIP_NAME_PROMPT_CHARS ? ascii : ascii.substring(0, ZIP_NAME_PROMPT_CHARS).replaceAll("-[^-]*$", "");
        return (words.isEmpty() ? "image" : words) + "-" + entry.id() + ".png";
    }

    /** The body's {@code ids}: 1 to {@link #MAX_IDS} image ids (repeats dropped), each of an image; 404 naming those that are not. */
    private List<String> existingIds(JsonNode body) {
        JsonNode ids = body.isObject() ? body.get("ids") : null;
        if (ids == null || ids.isNull()) {
            throw new RequestException(400, "missing_field", "ids is required: a list of image ids", "ids");
        }
        if (!ids.isArray() || ids.isEmpty()) {
            throw RequestException.invalidField("ids", "must be a list of one or more image ids");
        }
        if (ids.size() > MAX_IDS) {
            throw RequestException.invalidField("ids", "must hold at most " + MAX_IDS + " image ids, got " + ids.size());
        }
        LinkedHashSet<String> unique = new LinkedHashSet<>();
        for (JsonNode id : ids) {
            if (!id.isTextual()) {
                throw new RequestException(400, "invalid_type", "ids must hold image ids (strings), got " + id.getNodeType()
                        .toString().toLowerCase(Locale.ROOT), "ids");
            }
            unique.add(id.asText());
        }
        List<String> list = List.copyOf(unique);
        List<String> missing = call(() -> services.gallery().missing(list));
        if (!missing.isEmpty()) {
            throw imagesNotFound(missing);
        }
        return list;
    }

    private static RequestException imagesNotFound(List<String> ids) {
        String shown = ids.stream().limit(5).map(ServiceLog::printable).collect(Collectors.joining(", "));
        String more = ids.size() > 5 ? " and " + (ids.size() - 5) + " more" : "";
        return new RequestException(404, "not_found", (ids.size() == 1 ? "image " : "images ") + shown + more + " not found", "ids");
    }

    /** A {@code board} field: the id of an existing board, or null for none; 404 for a board that does not exist. */
    private String existingBoard(JsonNode board) {
        if (board == null || board.isNull()) {
            return null;
        }
        if (!board.isTextual()) {
            throw new RequestException(400, "invalid_type", "board must be a board id, or null for none", "board");
        }
        String id = board.asText();
        if (call(() -> services.gallery().boards().find(id)).isEmpty()) {
            throw BoardsApi.boardNotFound(id, "board");
        }
        return id;
    }

    private static ObjectNode summary(ImageEntry entry) {
        String self = "/api/v1/images/" + entry.id();
        ObjectNode json = JSON.createObjectNode().put("id", entry.id()).put("job_id", entry.jobId()).put("prompt", entry.prompt())
                .put("negative_prompt", entry.negativePrompt()).put("created_at", Http.time(entry.createdAt()))
                .put("width", entry.width()).put("height", entry.height()).put("favorite", entry.favorite())
                .put("model", entry.model()).put("sampler", entry.sampler()).put("seed", entry.seed()).put("steps", entry.steps())
                .put("guidance_scale", entry.guidanceScale()).put("board", entry.board());
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

    /** A size filter: 1 to 65535 pixels. */
    private static Integer pixels(RoutingContext ctx, String name) {
        String value = param(ctx, name);
        if (value == null) {
            return null;
        }
        int pixels = value.matches("\\d{1,5}") ? Integer.parseInt(value) : -1;
        if (pixels < 1 || pixels > 65535) {
            throw RequestException.invalid(name, name + " must be a number of pixels between 1 and 65535, got " + ServiceLog.printable(value));
        }
        return pixels;
    }

    /** {@code board}: a board id (of an existing board) or {@code none}. */
    private String boardFilter(RoutingContext ctx) {
        String value = param(ctx, "board");
        if (value == null || value.equals(ImageQuery.NO_BOARD)) {
            return value;
        }
        if (!Ids.isValid(value)) {
            throw RequestException.invalid("board", "board must be a board id, or none for the images on no board, got "
                    + ServiceLog.printable(value));
        }
        if (call(() -> services.gallery().boards().find(value)).isEmpty()) {
            throw BoardsApi.boardNotFound(value, "board");
        }
        return value;
    }

    /** {@code sort}: newest (the default) or oldest first. */
    private static ImageQuery.Order order(RoutingContext ctx) {
        String value = param(ctx, "sort");
        if (value == null) {
            return ImageQuery.Order.NEWEST;
        }
        return switch (value) {
            case "newest" -> ImageQuery.Order.NEWEST;
            case "oldest" -> ImageQuery.Order.OLDEST;
            default -> throw RequestException.invalid("sort", "sort must be newest or oldest, got " + ServiceLog.printable(value));
        };
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
    interface Io<T> {
        T get() throws IOException, SQLException;
    }

    static <T> T call(Io<T> work) {
        try {
            return work.get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (SQLException e) {
            throw new IllegalStateException("gallery database error: " + e.getMessage(), e);
        }
    }
}
