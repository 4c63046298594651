package daguerre.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.jobs.RequestException;
import daguerre.server.styles.PromptStyle;
import daguerre.server.styles.StyleStore;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The native API's prompt styles ({@code /api/v1/styles}): list, read, save, delete, import and export
 * A1111's {@code styles.csv}; and the expansion of a generation request's {@code styles} that the native
 * and A1111 generation routes share.
 */
final class StylesApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> STYLE_FIELDS = Set.of("name", "prompt", "negative_prompt");

    private final Services services;

    StylesApi(Services services) {
        this.services = services;
    }

    void mount(Router router) {
        router.get("/api/v1/styles").blockingHandler(this::list, false);
        router.get("/api/v1/styles.csv").blockingHandler(this::exportCsv, false);
        router.post("/api/v1/styles/import").blockingHandler(this::importCsv, false);
        router.get("/api/v1/styles/:name").blockingHandler(this::get, false);
        router.put("/api/v1/styles/:name").blockingHandler(this::put, false);
        router.delete("/api/v1/styles/:name").blockingHandler(this::delete, false);
    }

    /** A style as the APIs show it: {@code {name, prompt, negative_prompt}} (A1111's {@code /prompt-styles} items). */
    static ObjectNode view(PromptStyle style) {
        return JSON.createObjectNode().put("name", style.name()).put("prompt", style.prompt())
                .put("negative_prompt", style.negativePrompt());
    }

    static ArrayNode views(List<PromptStyle> styles) {
        ArrayNode items = JSON.createArrayNode();
        styles.forEach(style -> items.add(view(style)));
        return items;
    }

    /**
     * Applies the styles a generation request names in {@code field} (a list of names) to its native
     * form {@code request}: to {@code prompt} and {@code negative_prompt}, and to the hires fix's own
     * prompts where it has them, as A1111 does. Absent, null or empty: nothing changes.
     *
     * @throws RequestException 400 naming {@code field} when it is not a list of names or names an unknown style
     */
    static void applyStyles(ObjectNode request, JsonNode names, StyleStore store, String field) {
        if (names == null || names.isNull()) {
            return;
        }
        if (!names.isArray() || names.size() > 100 || !allText(names)) {
            throw RequestException.aboutField(400, "invalid_type", field, "must be a list of style names");
        }
        List<String> wanted = new ArrayList<>();
        names.forEach(name -> wanted.add(name.asText()));
        if (wanted.isEmpty()) {
            return;
        }
        List<PromptStyle> styles = store.resolve(wanted, field);
        PromptStyle.Prompts styled = PromptStyle.applyAll(styles, new PromptStyle.Prompts(text(request, "prompt"),
                text(request, "negative_prompt")));
        request.put("prompt", styled.prompt());
        request.put("negative_prompt", styled.negativePrompt());
        if (request.get("hires_fix") instanceof ObjectNode hires) {
            if (!text(hires, "prompt").isEmpty()) {
                hires.put("prompt", PromptStyle.applyPrompts(styles, text(hires, "prompt")));
            }
            if (!text(hires, "negative_prompt").isEmpty()) {
                hires.put("negative_prompt", PromptStyle.applyNegativePrompts(styles, text(hires, "negative_prompt")));
            }
        }
    }

    private static boolean allText(JsonNode array) {
        for (JsonNode item : array) {
            if (!item.isTextual()) {
                return false;
            }
        }
        return true;
    }

    /** A text field of the request; absent or null: "" (a wrong type is left for the request's own check). */
    private static String text(ObjectNode request, String field) {
        JsonNode value = request.get(field);
        if (value != null && !value.isNull() && !value.isTextual()) {
            throw RequestException.aboutField(400, "invalid_type", field, "must be a string");
        }
        return value == null || value.isNull() ? "" : value.asText();
    }

    private void list(RoutingContext ctx) {
        Http.send(ctx, 200, JSON.createObjectNode().set("items", views(services.styles().list())));
    }

    private void get(RoutingContext ctx) {
        String name = ctx.pathParam("name");
        Http.send(ctx, 200, view(services.styles().find(name).orElseThrow(() -> RequestException.notFound("style " + name))));
    }

    /** {@code PUT /api/v1/styles/{name}} {@code {prompt, negative_prompt}}: 201 for a new style, 200 for a replaced one. */
    private void put(RoutingContext ctx) {
        String name = ctx.pathParam("name");
        JsonNode body = Http.body(ctx);
        if (!(body instanceof ObjectNode object)) {
            throw RequestException.invalid(null, "the request body must be a JSON object {prompt, negative_prompt}");
        }
        object.fieldNames().forEachRemaining(field -> {
            if (!STYLE_FIELDS.contains(field)) {
                throw new RequestException(400, "unknown_field", "unknown field " + field + " (a style has prompt and negative_prompt)", field);
            }
        });
        if (object.hasNonNull("name") && !object.get("name").asText().equals(name)) {
            throw RequestException.invalidField("name", "must be the name in the path (" + name + ") or left out; to rename a style,"
                    + " save it under the new name and delete the old one");
        }
        PromptStyle style = new PromptStyle(name, text(object, "prompt"), text(object, "negative_prompt"));
        boolean created = services.styles().put(style);
        Http.send(ctx, created ? 201 : 200, view(style));
    }

    private void delete(RoutingContext ctx) {
        String name = ctx.pathParam("name");
        if (!services.styles().delete(name)) {
            throw RequestException.notFound("style " + name);
        }
        ctx.response().setStatusCode(204).end();
    }

    private void exportCsv(RoutingContext ctx) {
        ctx.response().putHeader("Content-Type", "text/csv; charset=utf-8")
                .putHeader("Content-Disposition", "attachment; filename=\"" + StyleStore.FILE_NAME + "\"")
                .end(services.styles().exportCsv());
    }

    /** {@code POST /api/v1/styles/import?mode=merge|replace} with a {@code styles.csv} as the body (UTF-8). */
    private void importCsv(RoutingContext ctx) {
        String mode = ctx.queryParams().get("mode");
        if (mode != null && !mode.equals("merge") && !mode.equals("replace")) {
            throw RequestException.invalid("mode", "mode must be merge (add to the styles, the file's replacing those of the same"
                    + " name) or replace (the file's styles instead of all), got " + ServiceLog.printable(mode));
        }
        if (ctx.body() == null || ctx.body().buffer() == null || ctx.body().buffer().length() == 0) {
            throw new RequestException(400, "missing_body", "send the styles.csv file as the request body", null);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(ctx.body().buffer().getBytes())).toString();
        } catch (CharacterCodingException e) {
            throw new RequestException(400, "invalid_csv", "the styles file is not UTF-8 text (A1111 writes styles.csv in UTF-8)", null);
        }
        List<PromptStyle> imported = services.styles().importCsv(text, "replace".equals(mode));
        ObjectNode body = JSON.createObjectNode().put("imported", imported.size());
        body.set("items", views(services.styles().list()));
        Http.send(ctx, 200, body);
    }
}
