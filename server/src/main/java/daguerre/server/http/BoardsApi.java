package daguerre.server.http;

import static daguerre.server.http.GalleryApi.call;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.gallery.Board;
import daguerre.server.gallery.Boards;
import daguerre.server.jobs.RequestException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The board routes: list (with image counts), create, rename, delete. Deleting a board keeps its
 * images: they become unboarded. Images are put on a board with {@code PATCH /api/v1/images/{id}}
 * or {@code POST /api/v1/images/bulk} ({@link GalleryApi}).
 */
final class BoardsApi {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Services services;

    BoardsApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.get("/api/v1/boards").blockingHandler(this::list, false);
        router.post("/api/v1/boards").blockingHandler(this::create, false);
        router.patch("/api/v1/boards/:id").blockingHandler(this::rename, false);
        router.delete("/api/v1/boards/:id").blockingHandler(this::delete, false);
    }

    private Boards boards() {
        return services.gallery().boards();
    }

    private void list(RoutingContext ctx) {
        ArrayNode items = JSON.createArrayNode();
        call(() -> boards().list()).forEach(board -> items.add(json(board)));
        ObjectNode body = JSON.createObjectNode();
        body.set("items", items);
        body.put("unboarded_count", call(() -> boards().unboardedCount()));
        Http.send(ctx, 200, body);
    }

    private void create(RoutingContext ctx) {
        String name = name(Http.body(ctx));
        Board board = call(() -> boards().create(name));
        ctx.response().putHeader("Location", "/api/v1/boards/" + board.id());
        Http.send(ctx, 201, json(board));
    }

    private void rename(RoutingContext ctx) {
        String name = name(Http.body(ctx));
        String id = ctx.pathParam("id");
        Board board = call(() -> boards().rename(id, name)).orElseThrow(() -> boardNotFound(id, null));
        Http.send(ctx, 200, json(board));
    }

    private void delete(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!call(() -> boards().delete(id))) {
            throw boardNotFound(id, null);
        }
        ctx.response().setStatusCode(204).end();
    }

    /** The body's {@code name}, a string (its checks are {@link Boards#create}'s). */
    private static String name(JsonNode body) {
        JsonNode name = body.isObject() ? body.get("name") : null;
        if (name == null || name.isNull()) {
            throw new RequestException(400, "missing_field", "name is required: give the board a name", "name");
        }
        if (!name.isTextual()) {
            throw new RequestException(400, "invalid_type", "name must be a string", "name");
        }
        return name.asText();
    }

    /** 404 not_found for a board id, reported against {@code field} (null for the path). */
    static RequestException boardNotFound(String id, String field) {
        return new RequestException(404, "not_found", "board " + ServiceLog.printable(id) + " not found", field);
    }

    private static ObjectNode json(Board board) {
        return JSON.createObjectNode().put("id", board.id()).put("name", board.name()).put("created_at", Http.time(board.createdAt()))
                .put("image_count", board.imageCount());
    }
}
