package daguerre.server.web;
import static org.junit.jupiter.api.Assertions.assertFalse;
import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.engine.PipelineEngine;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.testing.TestModelCards;
import daguerre.server.testing.TestServer;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The shared set-up of the browser tests: headless Chromium drives the page served by a real service on a
 * free port of 127.0.0.1, over the real {@link PipelineEngine} with two tiny models assembled from the
 * golden parts ({@link TinyModelFolder}; the same weights under two ids, so that the model filter and
 * picker have a choice) and one LoRA. The models are loaded once per test class; the engine runs one
 * job at a time, so two jobs with the same parameters give the same pixels. Subclasses hold the tests,
 * grouped by the part of the page they drive; the helpers below are what they share.
 */
@Tag("browser")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class BrowserTestBase {
    /** Generous: on a busy machine a real tiny-model job of 20 steps can take seconds. */
    protected static final Duration TIMEOUT = Duration.ofSeconds(60);
    protected static final String TWIN = "tiny-twin";

    @TempDir
    static Path dataDir;

    protected PipelineEngine engine;
    protected TestServer<PipelineEngine> server;
    protected HeadlessChromium browser;
    protected WebDriver driver;

    @BeforeAll
    void start() throws Exception {
        Path models = Files.createDirectories(dataDir.resolve("models"));
        // "tiny" has a model card (examples, caption form, vocabulary), the twin has none.
        Path tiny = TestModelCards.writeInto(TinyModelFolder.create(models, "tiny"), "tiny");
        // one LoRA in the LoRA folder, for the picker
        Path loras = Files.createDirectories(dataDir.resolve("loras"));
        Files.copy(daguerre.weights.Golden.file("lora_tiny", "lora_kohya.safetensors"), loras.resolve("apple-style.safetensors"));
        ModelHasher hasher = new ModelHasher();
        engine = PipelineEngine.load(List.of(tiny, TinyModelFolder.create(models, TWIN)), hasher, 1,
                daguerre.diffusion.nn.WeightPrecision.AS_STORED, daguerre.diffusion.vae.VaeTiling.AUTO,
                new daguerre.diffusion.lora.LoraLibrary(loras, 1 << 30, hasher), null);
        // A preview after every step.
        server = TestServer.start(dataDir.resolve("data"), engine, c -> c.withPreviewEvery(1));
        browser = HeadlessChromium.start(1280, 900);
        driver = browser.driver;
    }

    @AfterAll
    void stop() throws Exception {
        try (PipelineEngine models = engine; TestServer<PipelineEngine> service = server; HeadlessChromium chromium = browser) {
            // try-with-resources closes the browser, then the server, then the engine, skipping any that did not start
        }
    }

    @AfterEach
    void noScriptErrors() {
        String console = browser.consoleLog();
        assertFalse(console.contains("Uncaught"), "the page threw:\n" + console);
    }

    @BeforeEach
    void openPage() {
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
        driver.get(server.uri("/").toString());
        waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
        waitFor(d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
    }

    // --- helpers -------------------------------------------------------------------------------

    protected ModelDescriptor tinyModel() {
        return engine.models().get(0);
    }

    protected <T> T waitFor(Function<WebDriver, T> condition) {
        try {
            return new WebDriverWait(driver, TIMEOUT, Duration.ofMillis(25)).until(condition::apply);
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError("the page did not reach the expected state in " + TIMEOUT.toSeconds() + " s; it shows:\n"
                    + driver.findElement(By.tagName("body")).getText() + "\n--- browser console:\n" + browser.consoleLog(), e);
        }
    }

    /** Clicks an element after scrolling it to the middle of the window, clear of the sticky Generate bar. */
    protected void click(By locator) {
        WebElement element = driver.findElement(locator);
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", element);
        element.click();
    }

    protected void type(By locator, String text) {
        WebElement element = driver.findElement(locator);
        element.clear();
        element.sendKeys(text);
    }

    protected String value(String id) {
        return driver.findElement(By.id(id)).getDomProperty("value");
    }

    /** A value shown in the detail view (read in one script: the view is redrawn when the full metadata arrives). */
    protected String field(String name) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return document.querySelector(`#detail-meta dd[data-field='${arguments[0]}']`)?.textContent ?? ''", name);
    }

    protected boolean isOpen(String dialogId) {
        return driver.findElement(By.id(dialogId)).getDomAttribute("open") != null;
    }

    protected void openDetail(String imageId) {
        WebElement tile = waitFor(d -> d.findElement(By.cssSelector("li[data-image-id='" + imageId + "'] button")));
        tile.click();
        waitFor(d -> isOpen("detail"));
        waitFor(d -> !field("seed").isEmpty());
    }

    /** The image ids of the gallery's tiles (read in one script: tiles come and go while the page works). */
    protected Set<String> tileIds() {
        @SuppressWarnings("unchecked")
        List<String> ids = (List<String>) ((JavascriptExecutor) driver).executeScript(
                "return [...document.querySelectorAll('#gallery-grid li')].map(li => li.dataset.imageId)");
        return new HashSet<>(ids);
    }

    /** The controls on screen that have no accessible name (as Chromium computes it for assistive technology). */
    protected List<String> unlabelledControls(String within) {
        return driver.findElement(By.cssSelector(within)).findElements(By.cssSelector("input, select, textarea, button")).stream()
                .filter(WebElement::isDisplayed)
                .filter(control -> control.getAccessibleName().isBlank()).map(control -> control.getDomProperty("outerHTML")).toList();
    }

    protected Set<String> apiIds(String query) throws Exception {
        Set<String> ids = new HashSet<>();
        TestServer.json(server.get("/api/v1/images?limit=200&" + query)).get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    protected String lineStatus(int line) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return document.querySelector(`#batch-lines tr[data-line='${arguments[0]}']`)?.dataset.status ?? null", line);
    }

    /** Runs a job through the API and returns its image ids. */
    protected List<String> generated(String request) throws Exception {
        JsonNode job = server.awaitStatus(server.submit(request), "succeeded");
        return java.util.stream.StreamSupport.stream(job.get("images").spliterator(), false).map(JsonNode::asText).toList();
    }

    protected int[] pixels(String imageId) throws IOException, InterruptedException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(server.getBytes("/api/v1/images/" + imageId).body()));
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }
}
