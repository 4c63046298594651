package daguerre.server.http;

import static daguerre.server.http.CompatibleApisTest.assertA1111Error;
import static daguerre.server.testing.TestServer.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.JpegText;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompt styles through HTTP: the native {@code /api/v1/styles} routes, A1111's {@code /prompt-styles}
 * and {@code styles} on generations (the job runs, and its infotext records, the prompt with the styles
 * applied), import and export of {@code styles.csv}; and png-info on an A1111 JPEG.
 */
class StylesApiTest {

    @TempDir
    Path dataDir;
    TestServer<GradientTestEngine> server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dataDir, new GradientTestEngine(2), c -> c);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static String path(String name) {
        return "/api/v1/styles/" + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private HttpResponse<String> put(String name, String body) throws Exception {
        return server.send(HttpRequest.newBuilder(server.uri(path(name))).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)));
    }

    private HttpResponse<String> importCsv(String query, byte[] csv) throws Exception {
        return server.send(HttpRequest.newBuilder(server.uri("/api/v1/styles/import" + query)).header("Content-Type", "text/csv")
                .POST(HttpRequest.BodyPublishers.ofByteArray(csv)));
    }

    private static void assertNativeError(HttpResponse<String> response, int status, String code) throws Exception {
        assertEquals(status, response.statusCode(), response.body());
        assertEquals(code, json(response).get("error").get("code").asText(), response.body());
    }

    @Test
    void savedStylesAreListedReadReplacedAndDeleted() throws Exception {
        String name = "Film, noir / 1940s";
        HttpResponse<String> created = put(name, "{\"prompt\":\"{prompt}, film noir\",\"negative_prompt\":\"color\"}");
        assertEquals(201, created.statusCode(), created.body());
        assertEquals(200, put(name, "{\"name\":\"" + name + "\",\"prompt\":\"{prompt}, noir\",\"negative_prompt\":\"color\"}").statusCode());
        assertEquals(201, put("Warm", "{\"prompt\":\"golden hour\"}").statusCode());
        JsonNode style = json(server.get(path(name)));
        assertEquals("{prompt}, noir", style.get("prompt").asText());
        assertEquals("[{\"name\":\"Film, noir / 1940s\",\"prompt\":\"{prompt}, noir\",\"negative_prompt\":\"color\"},"
                + "{\"name\":\"Warm\",\"prompt\":\"golden hour\",\"negative_prompt\":\"\"}]", server.get("/sdapi/v1/prompt-styles").body());
        assertEquals(json(server.get("/sdapi/v1/prompt-styles")), json(server.get("/api/v1/styles")).get("items"));

        assertEquals(204, server.delete(path("Warm")).statusCode());
        assertNativeError(server.delete(path("Warm")), 404, "not_found");
        assertNativeError(server.get(path("Warm")), 404, "not_found");
        assertEquals(1, json(server.get("/api/v1/styles")).get("items").size());
        assertTrue(Files.readString(dataDir.resolve("styles.csv")).contains("\"Film, noir / 1940s\",\"{prompt}, noir\",color\r\n"));
    }

    @Test
    void badStylesAreRefusedWithTheirReason() throws Exception {
        assertNativeError(put("X", "{\"prompt\":\"a\",\"weight\":2}"), 400, "unknown_field");
        assertNativeError(put("X", "{\"name\":\"Y\",\"prompt\":\"a\"}"), 400, "invalid_value");
        assertNativeError(put("X", "[1]"), 400, "invalid_value");
        assertNativeError(put("X", "{\"prompt\":7}"), 400, "invalid_type");
        assertNativeError(put("two\nlines", "{\"prompt\":\"a\"}"), 400, "invalid_value");
        assertEquals("[]", server.get("/sdapi/v1/prompt-styles").body(), "nothing was saved");
    }

    @Test
    void importMergesOrReplacesExportGivesA1111sFileAndBadFilesNameTheLine() throws Exception {
        put("Mine", "{\"prompt\":\"mine\"}");
        String a1111 = "\uFEFFname,prompt,negative_prompt\r\nCinematic,\"{prompt}, cinematic, \"\"35mm\"\"\",\"cartoon,\r\nanime\"\r\n";
        HttpResponse<String> merged = importCsv("", a1111.getBytes(StandardCharsets.UTF_8));
        assertEquals(200, merged.statusCode(), merged.body());
        assertEquals(1, json(merged).get("imported").asInt());
        assertEquals(2, json(merged).get("items").size());
        assertEquals("cartoon,\r\nanime", json(server.get(path("Cinematic"))).get("negative_prompt").asText());

        HttpResponse<byte[]> exported = server.getBytes("/api/v1/styles.csv");
        assertEquals("text/csv; charset=utf-8", exported.headers().firstValue("Content-Type").orElseThrow());
        assertTrue(exported.headers().firstValue("Content-Disposition").orElseThrow().contains("styles.csv"));
        assertEquals("\uFEFFname,prompt,negative_prompt\r\nMine,mine,\r\n" + a1111.substring(a1111.indexOf("Cinematic")),
                new String(exported.body(), StandardCharsets.UTF_8));

        HttpResponse<String> bad = importCsv("?mode=replace", "name,prompt\nok,fine\nbroken,\"never closed\n".getBytes(StandardCharsets.UTF_8));
        assertNativeError(bad, 400, "invalid_csv");
        assertTrue(json(bad).get("error").get("message").asText().contains("line 3"), bad.body());
        assertNativeError(importCsv("?mode=append", "name,prompt\n".getBytes(StandardCharsets.UTF_8)), 400, "invalid_value");
        assertNativeError(importCsv("", new byte[] {'n', 'a', (byte) 0xC3, 0x28}), 400, "invalid_csv");
        assertNativeError(importCsv("", new byte[0]), 400, "missing_body");
        assertEquals(2, json(server.get("/api/v1/styles")).get("items").size(), "a bad file changes nothing");

        HttpResponse<String> replaced = importCsv("?mode=replace", "name,prompt\nOnly,only\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(200, replaced.statusCode(), replaced.body());
        assertEquals("[{\"name\":\"Only\",\"prompt\":\"only\",\"negative_prompt\":\"\"}]", server.get("/sdapi/v1/prompt-styles").body());
    }

    @Test
    void a1111GenerationsApplyTheStylesAndTheInfotextRecordsThem() throws Exception {
        put("Frame", "{\"prompt\":\"a photo of {prompt}, framed\",\"negative_prompt\":\"blurry\"}");
        put("Signed", "{\"prompt\":\"signed\",\"negative_prompt\":\"{prompt}, watermark\"}");
        HttpResponse<String> response = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a cat\",\"negative_prompt\":\"dark\","
                + "\"styles\":[\"Frame\",\"Signed\"],\"steps\":2,\"width\":64,\"height\":64}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode info = TestServer.JSON.readTree(json(response).get("info").asText());
        assertEquals("a cat", info.get("prompt").asText(), "as sent, as A1111 reports it");
        assertEquals("a photo of a cat, framed, signed", info.get("all_prompts").get(0).asText());
        assertEquals("dark, blurry, watermark", info.get("all_negative_prompts").get(0).asText());
        assertEquals("[\"Frame\",\"Signed\"]", info.get("styles").toString());
        assertTrue(info.get("infotexts").get(0).asText().startsWith("a photo of a cat, framed, signed\nNegative prompt: dark, blurry, watermark\n"),
                info.toString());

        HttpResponse<String> unknown = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"styles\":[\"Frame\",\"Nope\"],\"steps\":1}");
        assertA1111Error(unknown, 422, "styles");
        assertTrue(json(unknown).get("detail").asText().contains("style not found: Nope"), unknown.body());
        assertA1111Error(server.post("/sdapi/v1/txt2img", "{\"prompt\":\"x\",\"styles\":\"Frame\",\"steps\":1}"), 422, "styles");
    }

    @Test
    void nativeGenerationsTakeStylesToo() throws Exception {
        put("Watercolor", "{\"prompt\":\"watercolor\",\"negative_prompt\":\"photo\"}");
        JsonNode job = server.awaitStatus(server.submit("{\"prompt\":\"a boat\",\"styles\":[\"Watercolor\"],\"steps\":1}"), "succeeded");
        JsonNode metadata = json(server.get("/api/v1/images/" + job.get("images").get(0).asText() + "/metadata"));
        assertEquals("a boat, watercolor", metadata.get("prompt").asText());
        assertEquals("photo", metadata.get("request").get("negative_prompt").asText());
        assertTrue(metadata.get("infotext").asText().startsWith("a boat, watercolor\nNegative prompt: photo\n"), metadata.toString());
        assertEquals("1", metadata.get("infotext_parameters").get("Steps").asText());
        HttpResponse<String> unknown = server.post("/api/v1/generations", "{\"prompt\":\"x\",\"styles\":[\"Nope\"]}");
        assertNativeError(unknown, 400, "unknown_style");
        assertEquals("styles", json(unknown).get("error").get("field").asText());
    }

    @Test
    void pngInfoReadsTheParametersOfAnA1111Jpeg() throws Exception {
        String infotext = "a red fox, snow\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7,"
                + " Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1";
        byte[] jpeg = JpegText.write(new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB), infotext, 90);
        HttpResponse<String> response = server.post("/sdapi/v1/png-info",
                "{\"image\":\"data:image/jpeg;base64," + Base64.getEncoder().encodeToString(jpeg) + "\"}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode body = json(response);
        assertEquals(infotext, body.get("info").asText());
        assertEquals("DPM++ 2M", body.get("parameters").get("Sampler").asText());
        assertEquals("blurry", body.get("parameters").get("Negative prompt").asText());

        byte[] plain = java.util.Arrays.copyOfRange(jpeg, 0, 2); // SOI and nothing else
        JsonNode none = json(server.post("/sdapi/v1/png-info", "{\"image\":\"" + Base64.getEncoder().encodeToString(
                new byte[] {plain[0], plain[1], (byte) 0xff, (byte) 0xd9}) + "\"}"));
        assertEquals("", none.get("info").asText());
        assertA1111Error(server.post("/sdapi/v1/png-info", "{\"image\":\"" + Base64.getEncoder().encodeToString("GIF89a".getBytes()) + "\"}"),
                422, "image");
    }
}
