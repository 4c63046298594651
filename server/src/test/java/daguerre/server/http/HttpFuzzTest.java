package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded, bounded fuzzing of every route of the three API families against the real server on
 * loopback: valid requests mutated field by field (wrong types, huge and negative numbers, odd
 * strings, missing and unknown fields), broken JSON, odd methods, content types and query
 * strings. Fails on any 5xx, on any error answer that is not JSON in its family's shape, and if
 * the server stops answering. The seed is printed, and {@code -Dfuzz.seed} / {@code -Dfuzz.requests}
 * replay or widen a run.
 */
class HttpFuzzTest {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String TINY_PNG = Base64.getEncoder().encodeToString(pngOf8x8());

    @TempDir
    Path dataDir;

    private record Route(String method, String path, String family, ObjectNode body) {}

    private static ObjectNode object(Object... keysAndValues) {
        ObjectNode node = NODES.objectNode();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            node.set((String) keysAndValues[i], TestServer.JSON.valueToTree(keysAndValues[i + 1]));
        }
        return node;
    }

    private static List<Route> routes() {
        ObjectNode nativeGeneration = object("prompt", "a cat", "steps", 2, "width", 64, "height", 64, "sampler", "euler",
                "guidance_scale", 7, "seed", 1, "n", 1);
        ObjectNode a1111 = object("prompt", "a cat", "steps", 2, "width", 64, "height", 64, "sampler_name", "Euler",
                "cfg_scale", 7, "seed", 1, "batch_size", 1, "n_iter", 1);
        ObjectNode img2img = a1111.deepCopy();
        img2img.set("init_images", NODES.arrayNode().add(TINY_PNG));
        img2img.put("denoising_strength", 0.75);
        return List.of(
                new Route("POST", "/api/v1/generations", "native", nativeGeneration),
                new Route("GET", "/api/v1/jobs", "native", null),
                new Route("GET", "/api/v1/jobs/{job}", "native", null),
                new Route("POST", "/api/v1/jobs/{job}/cancel", "native", null),
                new Route("GET", "/api/v1/models", "native", null),
                new Route("GET", "/api/v1/samplers", "native", null),
                new Route("POST", "/api/v1/batches", "native", object("prompts", "a cat --steps 2\na dog", "model", "tiny")),
                new Route("GET", "/api/v1/batches/{job}", "native", null),
                new Route("GET", "/api/v1/images?q={q}&from={n}&to={n}&limit={n}&cursor={q}&favorite={q}", "native", null),
                new Route("GET", "/api/v1/images/{image}", "native", null),
                new Route("GET", "/api/v1/images/{image}/thumbnail", "native", null),
                new Route("GET", "/api/v1/images/{image}/metadata", "native", null),
                new Route("PATCH", "/api/v1/images/{image}", "native", object("favorite", true)),
                new Route("DELETE", "/api/v1/images/{image}", "native", null),
                new Route("GET", "/api/v1/nothing-here", "native", null),
                new Route("POST", "/sdapi/v1/txt2img", "a1111", a1111),
                new Route("POST", "/sdapi/v1/img2img", "a1111", img2img),
                new Route("GET", "/sdapi/v1/progress?skip_current_image={q}", "a1111", null),
                new Route("POST", "/sdapi/v1/interrupt", "a1111", null),
                new Route("POST", "/sdapi/v1/skip", "a1111", null),
                new Route("GET", "/sdapi/v1/options", "a1111", null),
                new Route("POST", "/sdapi/v1/options", "a1111", object("CLIP_stop_at_last_layers", 1)),
                new Route("POST", "/sdapi/v1/png-info", "a1111", object("image", TINY_PNG)),
                new Route("GET", "/sdapi/v1/sd-models", "a1111", null),
                new Route("GET", "/sdapi/v1/nothing-here", "a1111", null),
                new Route("POST", "/v1/images/generations", "openai", object("prompt", "a cat", "size", "64x64", "n", 1,
                        "response_format", "b64_json")),
                new Route("GET", "/v1/models", "openai", null),
                new Route("GET", "/v1/nothing-here", "openai", null));
    }

    @Test
    void noInputReachesA5xxOrLeavesItsFamilysErrorShape() throws Exception {
        long seed = Long.getLong("fuzz.seed", 20261202L);
        int requests = Integer.getInteger("fuzz.requests", 2500);
        Random random = new Random(seed);
        List<Route> routes = routes();
        List<String> jobIds = new ArrayList<>(List.of("aaaaaaaaaaaaaaaaaaaa"));
        List<String> imageIds = new ArrayList<>(List.of("aaaaaaaaaaaaaaaaaaaa"));
        Map<Integer, Integer> codes = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        long started = System.nanoTime();
        try (TestServer<GradientTestEngine> server = TestServer.start(dataDir, new GradientTestEngine(0),
                c -> c.withLimits(c.limits().withQueueSize(5)))) {
            for (int i = 0; i < requests; i++) {
                Route route = routes.get(random.nextInt(routes.size()));
                String path = fill(route.path(), random, jobIds, imageIds);
                String method = random.nextInt(20) == 0 ? pick(random, "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS") : route.method();
                String body = route.body() == null ? (random.nextInt(5) == 0 ? mutatedText(random) : "")
                        : mutatedBody(route.body(), random);
                HttpRequest.Builder request = HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(30))
                        .version(java.net.http.HttpClient.Version.HTTP_1_1)
                        .method(method, body.isEmpty() ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
                if (!body.isEmpty() || random.nextBoolean()) {
                    request.header("Content-Type", pick(random, "application/json", "application/json; charset=utf-8",
                            "application/json; charset=latin1", "application/json; charset=klingon", "text/plain",
                            "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "*/*"));
                }
                HttpResponse<String> response;
                try {
                    response = server.send(request);
                } catch (java.io.IOException e) {
                    codes.merge(0, 1, Integer::sum);
                    if (failures.size() < 20) {
                        failures.add(method + " " + abbreviate(path) + " " + abbreviate(body) + " -> no answer: " + e.getMessage());
                    }
                    continue;
                }
                codes.merge(response.statusCode(), 1, Integer::sum);
                String problem = problem(route.family(), response);
                if (problem != null && failures.size() < 20) {
                    failures.add(method + " " + abbreviate(path) + " " + abbreviate(body) + " -> " + response.statusCode() + " "
                            + abbreviate(response.body()) + ": " + problem);
                }
                remember(response, jobIds, imageIds);
            }
            assertEquals(200, server.get("/healthz").statusCode(), "the server is alive after the run");
        }
        System.out.printf("fuzz seed %d: %d requests in %.1f s, status codes (0 = no answer) %s%n", seed, requests,
                (System.nanoTime() - started) / 1e9, codes);
        assertTrue(failures.isEmpty(), failures.size() + " bad answers (seed " + seed + "), the first:\n" + String.join("\n", failures));
    }

    /** Why an answer is wrong for its family, or null when it is fine. */
    private static String problem(String family, HttpResponse<String> response) {
        int status = response.statusCode();
        if (status >= 500) {
            return "a server error";
        }
        if (status < 400) {
            return null;
        }
        JsonNode error;
        try {
            error = TestServer.JSON.readTree(response.body());
        } catch (Exception e) {
            return "an error that is not JSON";
        }
        if (error == null || !error.isObject()) {
            return "an error that is not a JSON object";
        }
        return switch (family) {
            case "a1111" -> error.has("error") && error.has("detail") ? null : "not A1111's {error, detail, body, errors}";
            case "openai" -> error.path("error").has("message") && error.path("error").has("type") ? null
                    : "not OpenAI's {error: {message, type, param, code}}";
            default -> error.path("error").has("code") && error.path("error").has("message") ? null
                    : "not the native {error: {code, message, field}}";
        };
    }

    private static void remember(HttpResponse<String> response, List<String> jobIds, List<String> imageIds) {
        if (response.statusCode() >= 300 || !response.body().startsWith("{")) {
            return;
        }
        try {
            JsonNode json = TestServer.JSON.readTree(response.body());
            if (json.path("id").isTextual() && jobIds.size() < 100) {
                jobIds.add(json.path("id").asText());
            }
            for (JsonNode item : json.path("items")) {
                if (item.path("id").isTextual() && imageIds.size() < 100) {
                    imageIds.add(item.path("id").asText());
                }
            }
        } catch (Exception notJson) {
            // a PNG or text answer: nothing to remember
        }
    }

    private static String fill(String template, Random random, List<String> jobIds, List<String> imageIds) {
        String path = template;
        while (path.contains("{job}")) {
            path = path.replaceFirst("\\{job}", pathPart(random, jobIds));
        }
        while (path.contains("{image}")) {
            path = path.replaceFirst("\\{image}", pathPart(random, imageIds));
        }
        while (path.contains("{q}")) {
            path = path.replaceFirst("\\{q}", URLEncoder.encode(oddString(random), StandardCharsets.UTF_8).replace("%", "%%")
                    .replace("$", "\\$")).replace("%%", "%");
        }
        while (path.contains("{n}")) {
            path = path.replaceFirst("\\{n}", URLEncoder.encode(oddNumber(random).toString(), StandardCharsets.UTF_8));
        }
        return path;
    }

    private static String pathPart(Random random, List<String> known) {
        return switch (random.nextInt(4)) {
            case 0, 1 -> known.get(random.nextInt(known.size()));
            case 2 -> URLEncoder.encode(oddString(random), StandardCharsets.UTF_8).replace("+", "%20");
            default -> "x".repeat(random.nextInt(300) + 1);
        };
    }

    /** The body mutated: most often one to three fields changed, sometimes the JSON itself broken. */
    private static String mutatedBody(ObjectNode valid, Random random) {
        int kind = random.nextInt(10);
        if (kind == 0) {
            return mutatedText(random);
        }
        if (kind == 1) {
            String text = valid.toString();
            return text.substring(0, random.nextInt(text.length()));
        }
        if (kind == 2) {
            return pick(random, "[]", "null", "42", "\"text\"", "{}", "[{}]", "true");
        }
        ObjectNode body = valid.deepCopy();
        for (int changes = 1 + random.nextInt(3); changes > 0; changes--) {
            List<String> fields = new ArrayList<>();
            body.fieldNames().forEachRemaining(fields::add);
            int action = random.nextInt(6);
            if (action == 0 && !fields.isEmpty()) {
                body.remove(fields.get(random.nextInt(fields.size())));
            } else if (action == 1) {
                body.set(pick(random, "mask", "enable_hr", "styles", "clip_skip", "eta", "strength", "init_image",
                        "override_settings", "negative_prompt", "guidance_rescale", "denoising_strength", "quality",
                        "user", "unknown_field", "scheduler", "send_images", "save_images"), oddValue(random));
            } else if (!fields.isEmpty()) {
                body.set(fields.get(random.nextInt(fields.size())), oddValue(random));
            }
        }
        return body.toString();
    }

    private static String mutatedText(Random random) {
        return pick(random, "", "{", "{\"prompt\":", "{\"prompt\":\"\\ud800\"}", "\u0000\u0001", "{\"a\":1}{\"b\":2}",
                "{\"prompt\":\"a\",\"prompt\":\"b\"}", "{" + "\"a\":[".repeat(2000), "\uFEFF{\"prompt\":\"a cat\"}",
                "prompt=a+cat", "<xml/>", "{\"prompt\":1e99999}");
    }

    private static JsonNode oddValue(Random random) {
        return switch (random.nextInt(9)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(random.nextBoolean());
            case 2, 3 -> TestServer.JSON.valueToTree(oddNumber(random));
            case 4, 5 -> NODES.textNode(oddString(random));
            case 6 -> NODES.arrayNode().add(oddString(random)).add(random.nextInt());
            case 7 -> object("CLIP_stop_at_last_layers", oddNumber(random), "sd_model_checkpoint", oddString(random));
            default -> {
                ArrayNode images = NODES.arrayNode();
                images.add(random.nextBoolean() ? TINY_PNG : oddString(random));
                yield images;
            }
        };
    }

    private static Object oddNumber(Random random) {
        return switch (random.nextInt(10)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Integer.MAX_VALUE;
            case 3 -> Long.MIN_VALUE;
            case 4 -> 1e300;
            case 5 -> -0.5;
            case 6 -> new java.math.BigInteger("123456789012345678901234567890");
            case 7 -> random.nextInt(10) + 1;
            case 8 -> 7;
            default -> random.nextDouble() * 2;
        };
    }

    private static String oddString(Random random) {
        return switch (random.nextInt(12)) {
            case 0 -> "";
            case 1 -> "\u0000";
            case 2 -> "(a:1.2.3)";
            case 3 -> "\"NEAR(a b)* OR -x";
            case 4 -> "x".repeat(random.nextInt(30_000));
            case 5 -> "🐱 ünïcödé \u202e";
            case 6 -> "64x64";
            case 7 -> "99999x99999";
            case 8 -> "../../etc/passwd";
            case 9 -> "[a:b:0.5] BREAK {c}";
            case 10 -> "Euler a";
            default -> Long.toString(random.nextLong());
        };
    }

    @SafeVarargs
    private static <T> T pick(Random random, T... options) {
        return options[random.nextInt(options.length)];
    }

    private static String abbreviate(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }

    private static byte[] pngOf8x8() {
        try {
            java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
            javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", png);
            return png.toByteArray();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
