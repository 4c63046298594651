package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.testing.GradientTestEngine;
import daguerre.server.testing.TestModelCards;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

/**
 * The web UI end to end (see {@link BrowserTestBase} for the set-up): the generate form, the queue,
 * the gallery and the detail view.
 *
 * <p>Two tests use the {@link GradientTestEngine} test double instead: the server restart, which
 * needs a job held running across the restart for as long as the test takes, a control the real
 * engine does not offer (a long real job could finish, or not yet have started, at the moment of
 * the restart on a busy machine); and the size presets of an SDXL-family model, which only need
 * the model list (no tiny SDXL model is assembled here).
 */
class WebUiTest extends BrowserTestBase {

    /** An SDXL-family test model of SDXL's native 1024x1024. */
    private static final String XL = "xl";

    @Test
    void generateShowsLiveProgressThenTheImageInTheGallery() throws Exception {
        String prompt = "red heart, twemoji style, on a blue background";
        type(By.id("prompt"), prompt);
        type(By.id("steps"), "40");
        driver.findElement(By.id("prompt")).sendKeys(Keys.ENTER);
        // One snapshot of the running job, taken in the page once a step and its preview have arrived.
        @SuppressWarnings("unchecked")
        Map<String, Object> running = waitFor(d -> (Map<String, Object>) ((JavascriptExecutor) d).executeScript("""
                const li = document.querySelector('#queue li.running');
                const img = li?.querySelector('.job-preview img');
                const status = li?.querySelector('.job-status')?.textContent ?? '';
                if (!img || !/^Step [1-9]/.test(status)) return null;
                return {status, progress: String(li.querySelector('progress').value), src: img.getAttribute('src'),
                        text: li.textContent};"""));
        String status = (String) running.get("status");
        assertTrue(status.matches("Step \\d+ / 40.*"), status);
        assertEquals(status.replaceAll("Step (\\d+) .*", "$1"), running.get("progress"));
        assertTrue(((String) running.get("src")).startsWith("data:image/png;base64,"));
        assertTrue(((String) running.get("text")).contains(prompt));
        WebElement tile = waitFor(d -> d.findElement(By.cssSelector("#gallery-grid li:first-child img[alt='" + prompt + "']")));
        waitFor(d -> d.findElements(By.cssSelector("#queue li")).isEmpty());
        assertFalse(driver.findElement(By.id("queue-panel")).isDisplayed());
        String width = Integer.toString(tinyModel().defaultWidth());
        waitFor(d -> tile.getDomProperty("naturalWidth").equals(width));
        String imageId = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        assertEquals(200, server.getBytes("/api/v1/images/" + imageId).statusCode());
    }

    @Test
    void detailViewShowsEveryParameterAndArrowsAndEscapeWork() throws Exception {
        generated("{\"prompt\":\"older neighbour, noto style\",\"seed\":11,\"steps\":4}");
        String id = generated("{\"prompt\":\"detail check, twemoji style, on a green background\","
                + "\"negative_prompt\":\"blurry\",\"sampler\":\"ddim\",\"steps\":7,\"guidance_scale\":5.5,\"seed\":4242,"
                + "\"model\":\"" + TWIN + "\",\"width\":128,\"height\":64}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        WebElement dialog = driver.findElement(By.id("detail"));
        assertEquals("detail check, twemoji style, on a green background", field("prompt"));
        assertEquals("blurry", field("negative_prompt"));
        assertEquals("DDIM", field("sampler"));
        assertEquals("7", field("steps"));
        assertEquals("5.5", field("guidance"));
        assertEquals("4242", field("seed"));
        assertEquals("128 × 64", field("size"));
        assertEquals(TWIN, field("model"));
        assertFalse(field("created").isBlank());
        WebElement image = driver.findElement(By.id("detail-img"));
        assertEquals("detail check, twemoji style, on a green background", image.getDomAttribute("alt"));
        waitFor(d -> "128".equals(image.getDomProperty("naturalWidth")));
        assertTrue(driver.findElement(By.id("detail-download")).getDomAttribute("href").endsWith("/api/v1/images/" + id));
        click(By.id("detail-copy"));
        waitFor(d -> "Copied".equals(d.findElement(By.id("detail-copy")).getText()));

        dialog.sendKeys(Keys.ARROW_RIGHT);
        waitFor(d -> "older neighbour, noto style".equals(field("prompt")));
        assertEquals("11", field("seed"));
        dialog.sendKeys(Keys.ARROW_LEFT);
        waitFor(d -> "4242".equals(field("seed")));
        driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        waitFor(d -> !isOpen("detail"));
        assertEquals(id, driver.switchTo().activeElement().findElement(By.xpath("..")).getDomAttribute("data-image-id"));
    }

    @Test
    void searchShowsOnlyMatchingPrompts() throws Exception {
        String quokka = generated("{\"prompt\":\"smiling quokka, twemoji style, on a yellow background\",\"steps\":4}").get(0);
        String narwhal = generated("{\"prompt\":\"narwhal, noto style, on a purple background\",\"steps\":4}").get(0);
        driver.navigate().refresh();
        waitFor(d -> tileIds().containsAll(List.of(quokka, narwhal)));
        type(By.id("search"), "quokka");
        waitFor(d -> tileIds().equals(Set.of(quokka)));
        type(By.id("search"), "narwhal purple");
        waitFor(d -> tileIds().equals(Set.of(narwhal)));
        type(By.id("search"), "no such animal");
        waitFor(d -> driver.findElement(By.id("gallery-empty")).isDisplayed());
        assertTrue(driver.findElement(By.id("gallery-empty")).getText().contains("No image matches"));
    }

    @Test
    void favouriteThenFilterByFavouritesAndByModel() throws Exception {
        String favourite = generated("{\"prompt\":\"favourite one, twemoji style\",\"steps\":4}").get(0);
        String twin = generated("{\"prompt\":\"twin one, noto style\",\"steps\":4,\"model\":\"" + TWIN + "\"}").get(0);
        driver.navigate().refresh();
        openDetail(favourite);
        WebElement star = driver.findElement(By.id("detail-favorite"));
        assertEquals("false", star.getDomAttribute("aria-pressed"));
        star.click();
        waitFor(d -> "true".equals(star.getDomAttribute("aria-pressed")));
        assertTrue(TestServer.json(server.get("/api/v1/images/" + favourite + "/metadata")).get("favorite").asBoolean());
        click(By.id("detail-close"));
        waitFor(d -> !isOpen("detail"));
        assertFalse(driver.findElements(By.cssSelector("li[data-image-id='" + favourite + "'] .fav-badge")).isEmpty());

        click(By.id("filter-favorites"));
        Set<String> favourites = apiIds("favorite=true");
        assertTrue(favourites.contains(favourite));
        waitFor(d -> tileIds().equals(favourites));
        click(By.id("filter-favorites"));

        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("filter-model"))).selectByValue(TWIN);
        Set<String> twinImages = apiIds("model=" + TWIN);
        assertTrue(twinImages.contains(twin));
        assertFalse(twinImages.contains(favourite));
        waitFor(d -> tileIds().equals(twinImages));
    }

    @Test
    void reuseSeedGeneratesTheSameImageAgain() throws Exception {
        String prompt = "reused seed, twemoji style, on a red background";
        type(By.id("prompt"), prompt);
        type(By.id("steps"), "6");
        click(By.id("generate-button"));
        By tiles = By.cssSelector("#gallery-grid img[alt='" + prompt + "']");
        waitFor(d -> d.findElements(tiles).size() == 1);
        String first = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        long seed = TestServer.json(server.get("/api/v1/images/" + first + "/metadata")).get("seed").asLong();

        openDetail(first);
        click(By.id("reuse-seed"));
        waitFor(d -> !isOpen("detail"));
        assertEquals(Long.toString(seed), driver.findElement(By.id("seed")).getDomProperty("value"));
        assertTrue(driver.findElement(By.id("seed-fixed")).isSelected());
        assertEquals("prompt", driver.switchTo().activeElement().getDomAttribute("id"));
        click(By.id("generate-button"));
        waitFor(d -> d.findElements(tiles).size() == 2);
        String second = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        assertEquals(seed, TestServer.json(server.get("/api/v1/images/" + second + "/metadata")).get("seed").asLong());
        int[] pixels = pixels(first);
        assertTrue(Arrays.stream(pixels).distinct().count() > 1, "the engine painted one flat colour");
        assertArrayEquals(pixels, pixels(second));
    }

    @Test
    void reuseAllFillsEveryField() throws Exception {
        String id = generated("{\"prompt\":\"fill all\",\"negative_prompt\":\"noise\",\"sampler\":\"lms\",\"steps\":9,"
                + "\"guidance_scale\":3.5,\"seed\":77,\"model\":\"" + TWIN + "\",\"width\":128,\"height\":64,\"n\":2}").get(1);
        driver.navigate().refresh();
        openDetail(id);
        click(By.id("reuse-all"));
        waitFor(d -> !isOpen("detail"));
        assertEquals("fill all", value("prompt"));
        assertEquals("noise", value("negative_prompt"));
        assertEquals("lms", value("sampler"));
        assertEquals(TWIN, value("model"));
        assertEquals("9", value("steps"));
        assertEquals("3.5", value("guidance_scale"));
        assertEquals("78", value("seed"));
        assertEquals("128", value("width"));
        assertEquals("64", value("height"));
        assertEquals("1", value("n"));
    }

    @Test
    void reuseAllFillsTheHiresFix() throws Exception {
        String id = generated("{\"prompt\":\"reuse hires\",\"steps\":2,\"width\":64,\"height\":64,"
                + "\"hires_fix\":{\"scale\":1.5,\"upscaler\":\"Nearest\",\"steps\":2,\"strength\":0.5}}").get(0);
        driver.navigate().refresh();
        waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
        openDetail(id);
        click(By.id("reuse-all"));
        waitFor(d -> !isOpen("detail"));
        assertTrue(driver.findElement(By.id("hires-enabled")).isSelected());
        assertEquals("Nearest", value("hires-upscaler"));
        assertEquals("1.5", value("hires-scale"));
        assertEquals("2", value("hires-steps"));
        assertEquals("0.5", value("hires-strength"));
        assertEquals("64×64 upscaled to 96×96", driver.findElement(By.id("hires-size")).getText());
    }

    @Test
    void deleteAsksForConfirmationThenRemovesTheImage() throws Exception {
        String id = generated("{\"prompt\":\"to be deleted\",\"steps\":4}").get(0);
        driver.navigate().refresh();
        openDetail(id);
        click(By.id("detail-delete"));
        waitFor(d -> isOpen("confirm-delete"));
        click(By.id("confirm-delete-cancel"));
        waitFor(d -> !isOpen("confirm-delete"));
        assertEquals(200, server.getBytes("/api/v1/images/" + id).statusCode());

        click(By.id("detail-delete"));
        waitFor(d -> isOpen("confirm-delete"));
        click(By.id("confirm-delete-ok"));
        waitFor(d -> !tileIds().contains(id));
        assertEquals(404, server.getBytes("/api/v1/images/" + id).statusCode());
    }

    @Test
    void cancelStopsARunningJob() throws Exception {
        type(By.id("prompt"), "cancel me, twemoji style");
        // The most steps the server allows: the job is still running when the Cancel button is clicked.
        type(By.id("steps"), "150");
        click(By.id("generate-button"));
        WebElement job = waitFor(d -> d.findElement(By.cssSelector("#queue li.running")));
        String jobId = job.getDomAttribute("data-job-id");
        waitFor(d -> job.findElement(By.className("job-status")).getText().matches("Step [1-9].*"));
        job.findElement(By.tagName("button")).click();
        waitFor(d -> !d.findElements(By.cssSelector("#queue li[data-status='cancelled']")).isEmpty());
        JsonNode cancelled = TestServer.json(server.get("/api/v1/jobs/" + jobId));
        assertEquals("cancelled", cancelled.get("status").asText(), cancelled.toString());
        assertTrue(cancelled.get("images") == null || cancelled.get("images").isEmpty(), cancelled.toString());
    }

    @Test
    void badValueShowsTheServersMessageNextToTheField() throws Exception {
        type(By.id("prompt"), "too many steps");
        type(By.id("steps"), "999");
        click(By.id("generate-button"));
        WebElement error = waitFor(d -> d.findElement(By.id("steps-error")));
        waitFor(d -> error.isDisplayed());
        assertTrue(error.getText().contains("steps must be between 1 and 150, got 999"), error.getText());
        assertEquals("true", driver.findElement(By.id("steps")).getDomAttribute("aria-invalid"));
        assertEquals("steps", driver.switchTo().activeElement().getDomAttribute("id"));
        assertTrue(driver.findElements(By.cssSelector("#queue li")).isEmpty());

        type(By.id("steps"), "5");
        assertFalse(error.isDisplayed());
        assertEquals(null, driver.findElement(By.id("steps")).getDomAttribute("aria-invalid"));
    }

    @Test
    void aRunningJobSurvivesAServerRestartAndTheEventStreamReconnects() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        // The test double holds the job running across the restart; a fixed port finds the restarted server again.
        try (var held = TestServer.start(Files.createTempDirectory(dataDir, "restart"), new GradientTestEngine(10),
                c -> c.withPort(port).withPreviewEvery(1))) {
            driver.get(held.uri("/").toString());
            waitFor(d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
            restartWithARunningJob(held);
        }
    }

    /** Queues a job that the test double holds running, restarts the server, and checks that the page reconnects. */
    private void restartWithARunningJob(TestServer<GradientTestEngine> held) throws Exception {
        held.engine.hold();
        String jobId;
        try {
            type(By.id("prompt"), "survives a restart");
            click(By.id("generate-button"));
            jobId = waitFor(d -> d.findElement(By.cssSelector("#queue li.running"))).getDomAttribute("data-job-id");
            ((JavascriptExecutor) driver).executeScript("""
                    window.connectionStates = [];
                    new MutationObserver(() => window.connectionStates.push(document.getElementById('connection').dataset.state))
                        .observe(document.getElementById('connection'), {attributes: true});""");
            held.restart();
            waitFor(d -> String.valueOf(((JavascriptExecutor) d).executeScript("return window.connectionStates.join(',')"))
                    .matches(".*reconnecting.*live.*"));
            waitFor(d -> !d.findElements(By.cssSelector("#queue li.running[data-job-id='" + jobId + "']")).isEmpty());
            assertTrue(TestServer.json(held.get("/api/v1/jobs/" + jobId)).get("requeued").asBoolean());
        } finally {
            held.engine.release();
        }
        waitFor(d -> !d.findElements(By.cssSelector("#gallery-grid img[alt='survives a restart']")).isEmpty());
        waitFor(d -> d.findElements(By.cssSelector("#queue li")).isEmpty());
    }

    @Test
    void phoneWidthHasNoSidewaysScrolling() {
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        waitFor(d -> ((Number) ((JavascriptExecutor) d).executeScript("return window.innerWidth")).intValue() <= 400);
        long overflow = (Long) ((JavascriptExecutor) driver).executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assertEquals(0, overflow);
        WebElement form = driver.findElement(By.id("generate-form"));
        WebElement gallery = driver.findElement(By.id("gallery"));
        assertTrue(gallery.getRect().getY() > form.getRect().getY(), "the gallery comes below the form");
        assertTrue(form.getRect().getWidth() <= 390);
    }

    @Test
    void everyControlHasALabelAndTheFirstTabReachesTheSkipLink() throws Exception {
        click(By.cssSelector("#img2img summary"));
        assertEquals(List.of(), unlabelledControls("body"));
        openDetail(generated("{\"prompt\":\"labels\",\"steps\":4}").get(0));
        assertEquals(List.of(), unlabelledControls("#detail"));
        click(By.id("detail-close"));
        driver.navigate().refresh();
        waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
        driver.findElement(By.tagName("body")).sendKeys(Keys.TAB);
        assertEquals("Skip to the gallery", driver.switchTo().activeElement().getText());
        driver.switchTo().activeElement().sendKeys(Keys.TAB);
        assertEquals("prompt", driver.switchTo().activeElement().getDomAttribute("id"));
    }

    @Test
    void theLoraPickerInsertsATagAtTheCursorAndTheJobRunsIt() throws Exception {
        WebElement picker = driver.findElement(By.id("lora-picker"));
        assertTrue(picker.isDisplayed(), "the picker shows when the server has LoRAs");
        WebElement prompt = driver.findElement(By.id("prompt"));
        prompt.sendKeys("a red apple");
        new org.openqa.selenium.support.ui.Select(picker).selectByValue("apple-style");
        assertEquals("a red apple <lora:apple-style:1>", value("prompt"));
        assertEquals("", picker.getDomProperty("value"), "the picker resets to its placeholder");
        prompt.sendKeys(Keys.ENTER);
        String id = waitFor(d -> {
            try {
                JsonNode jobs = TestServer.json(server.get("/api/v1/jobs"));
                for (String list : List.of("items", "recent")) {
                    for (JsonNode j : jobs.path(list)) {
                        if (j.path("request").path("prompt").asText().equals("a red apple <lora:apple-style:1>")) {
                            return j.get("id").asText();
                        }
                    }
                }
                return null;
            } catch (IOException | InterruptedException e) {
                return null;
            }
        });
        JsonNode job = server.awaitStatus(id, "succeeded");
        String infotext = TestServer.json(server.get("/api/v1/images/" + job.get("images").get(0).asText() + "/metadata"))
                .get("infotext").asText();
        assertTrue(infotext.contains("Lora hashes: \"apple-style: "), infotext);
    }

    @Test
    void examplesDiceAndSizePresetsFillTheForm() {
        WebElement example = driver.findElement(By.cssSelector("#examples button"));
        example.click();
        assertEquals(example.getText(), value("prompt"));
        assertEquals(TestModelCards.EXAMPLES, driver.findElements(By.cssSelector("#examples button")).stream()
                .map(WebElement::getText).toList(), "the model card's examples");
        assertTrue(driver.findElement(By.id("examples-label")).getText().contains(TestModelCards.GRAMMAR));

        assertTrue(driver.findElement(By.id("seed-random")).isSelected());
        click(By.id("seed-dice"));
        assertTrue(driver.findElement(By.id("seed-fixed")).isSelected());
        assertTrue(value("seed").matches("\\d+"), value("seed"));
        click(By.id("seed-random"));
        assertEquals("", value("seed"));

        click(By.xpath("//div[@id='size-presets']/button[starts-with(., 'Large')]"));
        assertEquals("128", value("width"));
        assertEquals("128", value("height"));
        ModelDescriptor twin = engine.models().stream().filter(m -> m.id().equals(TWIN)).findFirst().orElseThrow();
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("model"))).selectByValue(TWIN);
        assertEquals(Integer.toString(twin.defaultWidth()), value("width"));
        assertEquals(Integer.toString(twin.defaultHeight()), value("height"));
        assertFalse(driver.findElement(By.cssSelector("#examples button")).getText().contains("heart"),
                "a model without a card gets free-text examples");
    }

    @Test
    void sizePresetsFollowTheModelsFamilyAndTheServersPixelLimit() throws Exception {
        // 1,040,000 pixels: every SDXL bucket fits, 1024x1024 (1,048,576) does not.
        try (var xl = TestServer.start(Files.createTempDirectory(dataDir, "xl"), new GradientTestEngine(2, new ModelDescriptor(XL, XL, "fedcba9876", 1024, 1024,
                "test double, SDXL family, 1024 px", null, 12, ModelDescriptor.SDXL)),
                c -> c.withLimits(c.limits().withMaxPixels(1_040_000)))) {
            driver.get(xl.uri("/").toString());
            waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
            List<String> sd = List.of("Default 64×64|", "Landscape 96×64|", "Portrait 64×96|", "Large 128×128|");
            assertEquals(sd, presets(), "an SD model's presets derive from its 64x64 default size");

            new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("model"))).selectByValue(XL);
            List<String> offered = presets();
            assertEquals(List.of("Square 1024×1024|1024×1024 is 1,048,576 pixels: this server allows at most 1,040,000 on this model.",
                    "Landscape 9:7 1152×896|", "Portrait 7:9 896×1152|", "Landscape 3:2 1216×832|", "Portrait 2:3 832×1216|",
                    "Wide 16:9 1344×768|", "Tall 9:16 768×1344|"), offered, "SDXL's buckets; the one above the limit is disabled and says why");
            assertFalse(driver.findElement(By.xpath("//div[@id='size-presets']/button[starts-with(., 'Square')]")).isEnabled());
            assertEquals("1152", value("width"), "the default 1024x1024 is above the limit: the first preset that fits");
            assertEquals("896", value("height"));
            click(By.xpath("//div[@id='size-presets']/button[starts-with(., 'Tall')]"));
            assertEquals("768", value("width"));
            assertEquals("1344", value("height"));

            new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("model"))).selectByValue("wide");
            assertEquals(List.of("Default 128×64|", "Square 64×64|", "Landscape 96×64|", "Portrait 64×96|", "Large 256×128|"), presets(),
                    "back on an SD model, the SD presets");
            assertEquals("128", value("width"));
            assertEquals("64", value("height"));
            new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("model"))).selectByValue("tiny");
            assertEquals(sd, presets());
        }
    }

    /** The size presets offered, each as "label|title" (the title is empty on an enabled preset). */
    @SuppressWarnings("unchecked")
    private List<String> presets() {
        return (List<String>) ((JavascriptExecutor) driver).executeScript("""
                return [...document.querySelectorAll('#size-presets button')].map(b => {
                  if (b.disabled !== b.hasAttribute('title')) throw new Error('only a disabled preset has a title: ' + b.outerHTML);
                  return b.textContent + '|' + (b.getAttribute('title') ?? '');
                });""");
    }

    @Test
    void aPromptOutsideTheModelsVocabularyRunsWithAWarning() {
        type(By.id("prompt"), "a rocket ship");
        type(By.id("steps"), "1");
        click(By.id("generate-button"));
        WebElement warning = waitFor(d -> {
            WebElement list = d.findElement(By.id("prompt-warning"));
            return list.isDisplayed() ? list : null;
        });
        assertTrue(warning.getText().contains("'rocket', 'ship'"), warning.getText());
        assertTrue(warning.getText().contains(TestModelCards.GRAMMAR), warning.getText());
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid img[alt='a rocket ship']")).isEmpty() ? null : true);
        type(By.id("prompt"), TestModelCards.EXAMPLES.get(0));
        click(By.id("generate-button"));
        waitFor(d -> d.findElement(By.id("prompt-warning")).isDisplayed() ? null : true);
    }

    @Test
    void imageToImageSendsThePickedImageAndStrength() throws Exception {
        Path png = dataDir.resolve("init.png");
        ImageIO.write(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        click(By.cssSelector("#img2img summary"));
        driver.findElement(By.id("init-file")).sendKeys(png.toString());
        WebElement preview = driver.findElement(By.id("init-preview"));
        waitFor(d -> preview.isDisplayed() && "64".equals(preview.getDomProperty("naturalWidth")));
        ((JavascriptExecutor) driver).executeScript(
                "const s = document.getElementById('strength'); s.value = '0.4'; s.dispatchEvent(new Event('input'))");
        assertEquals("0.40", driver.findElement(By.id("strength-value")).getText());
        type(By.id("prompt"), "from an image");
        click(By.id("generate-button"));
        waitFor(d -> !d.findElements(By.cssSelector("#gallery-grid img[alt='from an image']")).isEmpty());
        String imageId = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        JsonNode request = TestServer.json(server.get("/api/v1/images/" + imageId + "/metadata")).get("request");
        assertEquals(0.4, request.get("strength").asDouble(), 1e-9);

        click(By.id("init-remove"));
        assertFalse(preview.isDisplayed());
    }

    /** Keeps the body of every generation request the page sends, in {@code window.sentBodies}. */
    private void recordRequests() {
        ((JavascriptExecutor) driver).executeScript("""
                window.sentBodies = [];
                const original = window.fetch;
                window.fetch = (url, options) => {
                  if (String(url).endsWith('/api/v1/generations') && options && options.body) {
                    window.sentBodies.push(JSON.parse(options.body));
                  }
                  return original(url, options);
                };""");
    }

    /** The last generation request the page sent, once it has sent {@code count}. */
    private JsonNode sentRequest(int count) throws Exception {
        waitFor(d -> ((Number) ((JavascriptExecutor) d).executeScript("return window.sentBodies.length")).intValue() >= count);
        String json = (String) ((JavascriptExecutor) driver).executeScript("return JSON.stringify(window.sentBodies[arguments[0] - 1])", count);
        return TestServer.JSON.readTree(json);
    }

    /** Drags the pointer across the mask canvas from {@code from} to {@code to}, offsets from its centre in CSS pixels. */
    private void drag(WebElement canvas, int fromX, int fromY, int toX, int toY) {
        // wholly in view: Selenium's offsets are from the centre of the element's visible part
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", canvas);
        new org.openqa.selenium.interactions.Actions(driver).moveToElement(canvas, fromX, fromY).clickAndHold()
                .moveByOffset((toX - fromX) / 2, (toY - fromY) / 2).moveByOffset(toX - fromX - (toX - fromX) / 2, toY - fromY - (toY - fromY) / 2)
                .release().perform();
    }

    private static BufferedImage dataUrlImage(String dataUrl) throws IOException {
        assertTrue(dataUrl.startsWith("data:image/png;base64,"), dataUrl.substring(0, Math.min(40, dataUrl.length())));
        return ImageIO.read(new ByteArrayInputStream(java.util.Base64.getDecoder().decode(dataUrl.substring(dataUrl.indexOf(',') + 1))));
    }

    @Test
    void aMaskPaintedOnTheInitImageIsSentWithTheRequest() throws Exception {
        Path png = dataDir.resolve("mask-init.png");
        BufferedImage init = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                init.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 0x60);
            }
        }
        ImageIO.write(init, "png", png.toFile());
        recordRequests();
        click(By.cssSelector("#img2img summary"));
        driver.findElement(By.id("init-file")).sendKeys(png.toString());
        WebElement canvas = waitFor(d -> d.findElement(By.id("mask-tools")).isDisplayed() ? d.findElement(By.id("mask-canvas")) : null);
        waitFor(d -> "64".equals(canvas.getDomProperty("width")));
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", canvas);
        double scale = canvas.getRect().getWidth() / 64.0; // CSS pixels per image pixel
        ((JavascriptExecutor) driver).executeScript(
                "const b = document.getElementById('mask-brush'); b.value = '8'; b.dispatchEvent(new Event('input'))");
        assertEquals("8", driver.findElement(By.id("mask-brush-value")).getText());
        // a stroke across the middle, from x = 8 to x = 56 in image pixels; then the eraser over its left half
        int left = (int) Math.round(-24 * scale);
        int right = (int) Math.round(24 * scale);
        drag(canvas, left, 0, right, 0);
        click(By.id("mask-eraser"));
        ((JavascriptExecutor) driver).executeScript(
                "const b = document.getElementById('mask-brush'); b.value = '16'; b.dispatchEvent(new Event('input'))");
        drag(canvas, (int) Math.round(-30 * scale), 0, 0, 0);
        type(By.id("mask-blur"), "2");
        ((JavascriptExecutor) driver).executeScript("document.getElementById('inpaint-fill').value = 'latent_noise'");
        type(By.id("prompt"), "inpainted in the browser");
        type(By.id("steps"), "2");
        click(By.id("generate-button"));
        JsonNode sent = sentRequest(1);
        BufferedImage mask = dataUrlImage(sent.get("mask").asText());
        assertEquals(64, mask.getWidth());
        assertEquals(0xffffff, mask.getRGB(44, 32) & 0xffffff, "painted and not erased: white");
        assertEquals(0, mask.getRGB(44, 20) & 0xffffff, "above the stroke: black");
        StringBuilder row = new StringBuilder();
        for (int x = 0; x < 64; x++) {
            row.append((mask.getRGB(x, 32) & 0xff) > 127 ? '#' : '.');
        }
        assertEquals(0, mask.getRGB(12, 32) & 0xffffff, "erased: black; row 32: " + row + ", eraser "
                + driver.findElement(By.id("mask-eraser")).isSelected() + ", scale " + scale);
        assertEquals(0, mask.getRGB(2, 2) & 0xffffff, "never painted: black");
        assertEquals(2, sent.get("mask_blur").asInt());
        assertEquals("latent_noise", sent.get("inpaint_fill").asText());
        assertFalse(sent.get("mask_invert").asBoolean());
        assertFalse(sent.get("inpaint_full_res").asBoolean());
        waitFor(d -> !d.findElements(By.cssSelector("#gallery-grid img[alt='inpainted in the browser']")).isEmpty());
        String imageId = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        BufferedImage result = ImageIO.read(new ByteArrayInputStream(server.getBytes("/api/v1/images/" + imageId).body()));
        assertEquals(init.getRGB(2, 2), result.getRGB(2, 2), "the server kept the unpainted corner");

        // invert is sent; Clear leaves no mask, so the whole image is transformed
        click(By.id("mask-eraser"));
        drag(canvas, 0, (int) Math.round(-20 * scale), 0, (int) Math.round(20 * scale));
        click(By.id("mask-invert"));
        click(By.id("generate-button"));
        JsonNode inverted = sentRequest(2);
        assertTrue(inverted.get("mask_invert").asBoolean());
        assertEquals(0xffffff, dataUrlImage(inverted.get("mask").asText()).getRGB(32, 16) & 0xffffff, "the vertical stroke");
        click(By.id("mask-clear"));
        click(By.id("generate-button"));
        JsonNode cleared = sentRequest(3);
        assertFalse(cleared.has("mask"), cleared.toString());
        assertTrue(cleared.has("init_image"));
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid img[alt='inpainted in the browser']")).size() >= 3 ? true : null);
        click(By.id("init-remove"));
        assertFalse(driver.findElement(By.id("mask-tools")).isDisplayed());
    }

    @Test
    void theHiresFixSectionSendsItsFields() throws Exception {
        recordRequests();
        click(By.cssSelector("#hires summary"));
        WebElement upscaler = driver.findElement(By.id("hires-upscaler"));
        List<String> names = upscaler.findElements(By.tagName("option")).stream().map(o -> o.getDomProperty("value")).toList();
        assertEquals(daguerre.diffusion.pipeline.Upscalers.names(), names, "the server's upscalers");
        click(By.id("hires-enabled"));
        ((JavascriptExecutor) driver).executeScript("document.getElementById('hires-upscaler').value = 'Lanczos'");
        type(By.id("hires-scale"), "1.5");
        type(By.id("hires-steps"), "2");
        type(By.id("hires-strength"), "0.5");
        type(By.id("width"), "64");
        type(By.id("height"), "64");
        assertEquals("64×64 upscaled to 96×96", driver.findElement(By.id("hires-size")).getText());
        type(By.id("prompt"), "hires in the browser");
        type(By.id("steps"), "2");
        click(By.id("generate-button"));
        JsonNode hires = sentRequest(1).get("hires_fix");
        assertEquals("Lanczos", hires.get("upscaler").asText());
        assertEquals(1.5, hires.get("scale").asDouble());
        assertEquals(2, hires.get("steps").asInt());
        assertEquals(0.5, hires.get("strength").asDouble());
        waitFor(d -> !d.findElements(By.cssSelector("#gallery-grid img[alt='hires in the browser']")).isEmpty());
        String imageId = driver.findElement(By.cssSelector("#gallery-grid li:first-child")).getDomAttribute("data-image-id");
        assertEquals(96, ImageIO.read(new ByteArrayInputStream(server.getBytes("/api/v1/images/" + imageId).body())).getWidth());
        // unchecked: no hires_fix
        click(By.id("hires-enabled"));
        click(By.id("generate-button"));
        assertFalse(sentRequest(2).has("hires_fix"));
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid img[alt='hires in the browser']")).size() >= 2 ? true : null);
    }

    @Test
    void galleryLoadsMorePagesOnScroll() throws Exception {
        for (int i = 0; i < 5; i++) {
            generated("{\"prompt\":\"scroll page filler\",\"steps\":1,\"n\":8}");
        }
        driver.navigate().refresh();
        type(By.id("search"), "filler");
        waitFor(d -> tileIds().size() == 30);
        ((JavascriptExecutor) driver).executeScript("window.scrollTo(0, document.body.scrollHeight)");
        waitFor(d -> tileIds().size() == 40);
        waitFor(d -> "40 images".equals(d.findElement(By.id("gallery-status")).getText()));
    }

    @Test
    void asksForTheApiKeyOnceAndKeepsItForTheSession() throws Exception {
        try (var keyed = TestServer.start(Files.createTempDirectory(dataDir, "keyed"), engine,
                c -> c.withApiKeys(List.of("open-sesame")))) {
            driver.get(keyed.uri("/").toString());
            waitFor(d -> isOpen("api-key-dialog"));
            assertEquals("api-key", driver.switchTo().activeElement().getDomAttribute("id"));
            driver.switchTo().activeElement().sendKeys("wrong key", Keys.ENTER);
            waitFor(d -> isOpen("api-key-dialog") && d.findElement(By.id("api-key-message")).getText().contains("not accepted"));
            driver.switchTo().activeElement().sendKeys("open-sesame", Keys.ENTER);
            waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
            waitFor(d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
            WebElement empty = driver.findElement(By.id("gallery-empty"));
            waitFor(d -> empty.isDisplayed());
            assertTrue(empty.getText().contains("No images yet"), empty.getText());

            driver.navigate().refresh();
            waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
            assertFalse(isOpen("api-key-dialog"));
            type(By.id("prompt"), "behind a key");
            type(By.id("steps"), "4");
            click(By.id("generate-button"));
            WebElement tile = waitFor(d -> d.findElement(By.cssSelector("#gallery-grid img[alt='behind a key']")));
            String width = Integer.toString(tinyModel().defaultWidth());
            waitFor(d -> tile.getDomAttribute("src") != null && tile.getDomAttribute("src").startsWith("blob:")
                    && width.equals(tile.getDomProperty("naturalWidth")));
        }
    }
}
