package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.JpegText;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

/**
 * The detail view's infotext fields, copy parameters, send to image to image and the Delete key, and the
 * PNG Info panel (see {@link BrowserTestBase} for the set-up). What {@code WebUiTest} covers (arrows, Escape,
 * reuse, favourite, the Delete button) is not repeated here.
 */
class WebUiDetailTest extends BrowserTestBase {

    /** The fields the detail view shows under its own names (Guidance, Size, ...). */
    private static final Set<String> SHOWN_AS_COLUMNS = Set.of("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model");

    private JsonNode metadata(String id) throws Exception {
        return TestServer.json(server.get("/api/v1/images/" + id + "/metadata"));
    }

    private static String slug(String name) {
        return name.toLowerCase().replaceAll("\\W+", "_");
    }

    private static byte[] png(int width, int height) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB), "png", out);
        return out.toByteArray();
    }

    private String pngInfo(String field) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return document.querySelector(`#pnginfo-meta dd[data-field='${arguments[0]}']`)?.textContent ?? ''", field);
    }

    @Test
    void showsTheModelHashClipSkipAndEveryFieldOfTheInfotext() throws Exception {
        String id = generated("{\"prompt\":\"every field, twemoji style\",\"steps\":2,\"width\":64,\"height\":64,\"clip_skip\":2,"
                + "\"hires_fix\":{\"scale\":1.5,\"upscaler\":\"Nearest\",\"steps\":2,\"strength\":0.5}}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        waitFor(d -> !field("model_hash").equals("—") && !field("model_hash").isEmpty());
        assertEquals(tinyModel().hash(), field("model_hash"));
        assertEquals("2", field("clip_skip"));
        assertEquals("1.5", field("hires_upscale"));
        assertEquals("Nearest", field("hires_upscaler"));
        assertEquals("0.5", field("denoising_strength"));
        JsonNode infotext = metadata(id).get("infotext_parameters");
        assertTrue(infotext.size() >= 8, infotext.toString());
        infotext.properties().forEach(entry -> {
            if (!SHOWN_AS_COLUMNS.contains(entry.getKey())) {
                assertEquals(entry.getValue().asText(), field(slug(entry.getKey())), entry.getKey());
            }
        });
    }

    @Test
    void copyParametersCopiesTheRawInfotextAndCopyPromptThePrompt() throws Exception {
        String id = generated("{\"prompt\":\"copy me, noto style\",\"negative_prompt\":\"grey\",\"steps\":2,\"seed\":5}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        waitFor(d -> !field("model_hash").equals("—"));
        ((JavascriptExecutor) driver).executeScript(
                "Object.defineProperty(navigator, 'clipboard', {value: {writeText: async (text) => { window.copied = text; }}})");
        click(By.id("detail-copy-parameters"));
        waitFor(d -> "Copied".equals(d.findElement(By.id("detail-copy-parameters")).getText()));
        String infotext = metadata(id).get("infotext").asText();
        assertTrue(infotext.startsWith("copy me, noto style\nNegative prompt: grey\nSteps: 2,"), infotext);
        assertEquals(infotext, ((JavascriptExecutor) driver).executeScript("return window.copied"));
        waitFor(d -> "Copy parameters".equals(d.findElement(By.id("detail-copy-parameters")).getText()));
        click(By.id("detail-copy"));
        assertEquals("copy me, noto style", waitFor(d -> {
            Object copied = ((JavascriptExecutor) d).executeScript("return window.copied");
            return "copy me, noto style".equals(copied) ? copied : null;
        }));
    }

    @Test
    void sendToImageToImageMakesTheImageTheInitImageWithItsParameters() throws Exception {
        String id = generated("{\"prompt\":\"send me on, twemoji style\",\"seed\":99,\"steps\":3,\"sampler\":\"ddim\","
                + "\"width\":128,\"height\":64}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        click(By.id("send-img2img"));
        waitFor(d -> !isOpen("detail"));
        WebElement preview = driver.findElement(By.id("init-preview"));
        waitFor(d -> preview.isDisplayed() && "128".equals(preview.getDomProperty("naturalWidth")));
        assertEquals("64", preview.getDomProperty("naturalHeight"));
        assertEquals("send me on, twemoji style", value("prompt"));
        assertEquals("99", value("seed"));
        assertEquals("ddim", value("sampler"));
        assertEquals("128", value("width"));
        assertEquals("64", value("height"));
        assertFalse(driver.findElement(By.id("hires-enabled")).isSelected());
        assertEquals("prompt", driver.switchTo().activeElement().getDomAttribute("id"));

        click(By.id("generate-button"));
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid li")).size() > 0
                && !id.equals(d.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id")));
        String made = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        JsonNode request = metadata(made).get("request");
        assertTrue(request.has("strength"), "an image-to-image job: " + request);
        assertEquals(99, request.get("seed").asLong());
    }

    @Test
    void theDeleteKeyAsksTheSameConfirmationAsTheButton() throws Exception {
        String id = generated("{\"prompt\":\"delete by key\",\"steps\":2}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        WebElement dialog = driver.findElement(By.id("detail"));
        dialog.sendKeys(Keys.DELETE);
        waitFor(d -> isOpen("confirm-delete"));
        click(By.id("confirm-delete-cancel"));
        waitFor(d -> !isOpen("confirm-delete"));
        assertEquals(200, server.getBytes("/api/v1/images/" + id).statusCode());
        driver.switchTo().activeElement().sendKeys(Keys.DELETE);
        waitFor(d -> isOpen("confirm-delete"));
        click(By.id("confirm-delete-ok"));
        waitFor(d -> !tileIds().contains(id));
        assertEquals(404, server.getBytes("/api/v1/images/" + id).statusCode());
    }

    @Test
    void pngInfoReadsAnA1111PngAndFillsTheForm() throws Exception {
        String infotext = "a lighthouse at dusk, twemoji style\nNegative prompt: fog, \"haze\"\nSteps: 12, Sampler: DPM++ 2M,"
                + " Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 128x64, Model hash: " + tinyModel().hash()
                + ", Model: " + TWIN + ", Denoising strength: 0.45, Clip skip: 2, Hires upscale: 1.5, Hires steps: 3,"
                + " Hires upscaler: Nearest, Lora hashes: \"apple-style: 0123456789ab\", Version: v1.10.1";
        Path file = dataDir.resolve("a1111.png");
        Files.write(file, PngText.withText(png(16, 16), "parameters", infotext));
        driver.findElement(By.id("pnginfo-file")).sendKeys(file.toString());
        waitFor(d -> "DPM++ 2M".equals(pngInfo("sampler")));
        assertEquals("fog, \"haze\"", pngInfo("negative_prompt"));
        assertEquals("apple-style: 0123456789ab", pngInfo("lora_hashes"));
        assertEquals("v1.10.1", pngInfo("version"));
        click(By.id("pnginfo-use"));
        assertEquals("a lighthouse at dusk, twemoji style", value("prompt"));
        assertEquals("fog, \"haze\"", value("negative_prompt"));
        assertEquals(TWIN, value("model"), "the model of that hash and name");
        assertEquals("dpmpp_2m_karras", value("sampler"));
        assertEquals("12", value("steps"));
        assertEquals("6.5", value("guidance_scale"));
        assertEquals("1234", value("seed"));
        assertEquals("128", value("width"));
        assertEquals("64", value("height"));
        assertTrue(driver.findElement(By.id("hires-enabled")).isSelected());
        assertEquals("1.5", value("hires-scale"));
        assertEquals("3", value("hires-steps"));
        assertEquals("0.45", value("hires-strength"));
        assertEquals("Nearest", value("hires-upscaler"));
    }

    @Test
    void pngInfoTakesAnImageDroppedOnThePageJpegsAndSaysWhenThereAreNoParameters() throws Exception {
        String id = generated("{\"prompt\":\"dropped, noto style\",\"seed\":321,\"steps\":2}").get(0);
        // a gallery image dropped on the gallery (not on the image-to-image zone)
        ((JavascriptExecutor) driver).executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/api/v1/images/' + arguments[0]).then((r) => r.blob()).then((blob) => {
                  const transfer = new DataTransfer();
                  transfer.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
                  document.getElementById('gallery').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
                  done();
                });""", id);
        waitFor(d -> "321".equals(pngInfo("seed")));
        assertEquals("dropped, noto style", pngInfo("prompt"));
        assertTrue(driver.findElement(By.id("mask-wrap")).getDomAttribute("hidden") != null, "not taken as an init image");
        click(By.id("pnginfo-use"));
        assertEquals("321", value("seed"));
        assertEquals("dropped, noto style", value("prompt"));

        Path plain = dataDir.resolve("plain.png");
        Files.write(plain, png(8, 8));
        driver.findElement(By.id("pnginfo-file")).sendKeys(plain.toString());
        waitFor(d -> d.findElement(By.id("pnginfo-error")).getText().startsWith("plain.png holds no generation parameters"));
        assertFalse(driver.findElement(By.id("pnginfo-use")).isDisplayed());

        Path jpeg = dataDir.resolve("a1111.jpg");
        Files.write(jpeg, JpegText.write(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB),
                "from a jpeg\nSteps: 7, Sampler: Euler a, CFG scale: 7, Seed: 55, Size: 64x64", 90));
        driver.findElement(By.id("pnginfo-file")).sendKeys(jpeg.toString());
        waitFor(d -> "55".equals(pngInfo("seed")));
        assertEquals("from a jpeg", pngInfo("prompt"));
        assertFalse(driver.findElement(By.id("pnginfo-error")).isDisplayed());
    }
}
