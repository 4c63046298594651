package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.engine.PipelineEngine;
import daguerre.server.testing.TestServer;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Screenshots of the UI at 1280x900 and 390x844, from the real {@link PipelineEngine} on the shipped
 * default model (weights/default/model): the main page with a running job and its live preview, the
 * gallery in Select mode, the detail view and the batch view. Part of the browser tests; they land
 * in {@code server/target/screenshots}, or in the folder the system property
 * {@code daguerre.screenshots} names: the README's are taken with
 * {@code mvn -B test -pl server -am -Dtest=ReadmeScreenshotsTest -Dsurefire.failIfNoSpecifiedTests=false
 * -Ddaguerre.screenshots=$PWD/docs/screenshots}.
 */
@Tag("browser")
class ReadmeScreenshotsTest {

    private static final List<String> PROMPTS = List.of(
            "red heart, twemoji style, on a blue background",
            "yellow heart, twemoji style, on a purple background",
            "grinning face, noto style, on a yellow background",
            "rocket, twemoji style, on a black background",
            "blue circle, noto style, on a pink background",
            "fire, twemoji style, on a gray background",
            "green heart, noto style, on a white background",
            "pizza, twemoji style, on a orange background",
            "purple heart, noto style, on a green background",
            "ghost, twemoji style, on a red background",
            "sun with face, noto style, on a blue background",
            "orange circle, twemoji style, on a purple background");

    /** The two window sizes of every screenshot; its width ends the file's name. */
    private static final List<Dimension> SIZES = List.of(new Dimension(1280, 900), new Dimension(390, 844));

    @TempDir
    Path dataDir;

    @Test
    void takeScreenshots() throws Exception {
        Path root = Path.of(System.getProperty("daguerre.root", "."));
        String wanted = System.getProperty("daguerre.screenshots");
        Path out = Files.createDirectories(wanted != null ? Path.of(wanted) : root.resolve("server/target/screenshots"));
        Path model = root.resolve(DefaultModel.SOURCE_FOLDER);
        Path prompts = dataDir.resolve("emoji prompts.txt");
        Files.writeString(prompts, """
                rocket, twemoji style, on a blue background
                --prompt "sun with face, noto style, on a yellow background" --seed 7
                --prompt "too many steps" --steps 9999
                """);
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 1);
                var server = TestServer.start(dataDir.resolve("data"), engine, c -> c.withPreviewEvery(1));
                HeadlessChromium browser = HeadlessChromium.start(1280, 900)) {
            for (int i = 0; i < PROMPTS.size(); i++) {
                server.awaitStatus(server.submit("{\"prompt\":\"" + PROMPTS.get(i) + "\",\"seed\":" + (1000 + 17 * i) + "}"),
                        "succeeded");
            }
            JsonNode page = TestServer.json(server.get("/api/v1/images?limit=2"));
            server.patch("/api/v1/images/" + page.get("items").get(1).get("id").asText(), "{\"favorite\":true}");
            WebDriver driver = browser.driver;
            for (Dimension size : SIZES) {
                String suffix = "-" + size.getWidth() + ".png";
                driver.manage().window().setSize(size);
                driver.get(server.uri("/").toString());
                waitFor(driver, d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
                waitFor(driver, d -> d.findElements(By.cssSelector("#gallery-grid img")).size() >= PROMPTS.size()
                        && d.findElements(By.cssSelector("#gallery-grid img")).stream()
                                .allMatch(img -> !"0".equals(img.getDomProperty("naturalWidth"))));

                // The main page: a long job (the most steps allowed) running with its live preview, a second one waiting.
                type(driver, "steps", "150");
                type(driver, "prompt", "yellow heart, twemoji style, on a purple background");
                type(driver, "seed", "4227072");
                click(driver, By.id("generate-button"));
                waitFor(driver, d -> d.findElement(By.id("live-image")).isDisplayed()
                        && d.findElement(By.id("live-status")).getText().matches("Step \\d{2,}.*"));
                type(driver, "prompt", "rocket, noto style, on a blue background");
                click(driver, By.id("generate-button"));
                waitFor(driver, d -> !d.findElements(By.cssSelector("#queue li.queued")).isEmpty());
                script(driver, "document.activeElement.blur(); window.scrollTo(0, 0)");
                shoot(browser, out, "main" + suffix);
                for (JsonNode job : TestServer.json(server.get("/api/v1/jobs")).get("items")) {
                    server.post("/api/v1/jobs/" + job.get("id").asText() + "/cancel", "{}");
                }
                waitFor(driver, d -> d.findElements(By.cssSelector("#queue li.running, #queue li.queued")).isEmpty());

                // The gallery in Select mode, three images selected.
                click(driver, By.id("select-mode"));
                for (int tile : List.of(2, 3, 5)) {
                    click(driver, By.cssSelector("#gallery-grid li:nth-child(" + tile + ") button"));
                }
                waitFor(driver, d -> "3 selected".equals(d.findElement(By.id("selection-count")).getText()));
                script(driver, "document.activeElement.blur(); document.getElementById('gallery').scrollIntoView()");
                shoot(browser, out, "gallery-select" + suffix);
                click(driver, By.id("select-mode"));

                // The detail view of the sixth image. Read in one script: the details are redrawn when the full metadata arrives.
                click(driver, By.cssSelector("#gallery-grid li:nth-child(6) button"));
                waitFor(driver, d -> (Boolean) script(d,
                        "return (document.querySelector(`#detail-meta dd[data-field='seed']`)?.textContent ?? '') !== ''"
                                + " && document.getElementById('detail-img').naturalWidth > 0"));
                shoot(browser, out, "detail" + suffix);
                click(driver, By.id("detail-close"));

                // The batch view of a three-line prompt file, one line invalid.
                driver.findElement(By.id("batch-file")).sendKeys(prompts.toString());
                waitFor(driver, d -> d.findElements(By.cssSelector("#batch-lines tr[data-status='succeeded'] img")).size() == 2
                        && d.findElements(By.cssSelector("#batch-lines tr[data-status='succeeded'] img")).stream()
                                .allMatch(img -> !"0".equals(img.getDomProperty("naturalWidth"))));
                script(driver, "document.activeElement.blur(); document.getElementById('batch-panel').scrollIntoView()");
                shoot(browser, out, "batch" + suffix);
            }
        }
    }

    /** Writes a screenshot of the window as {@code name}, checking that it shows the whole window and not a blank page. */
    private static void shoot(HeadlessChromium browser, Path out, String name) throws java.io.IOException {
        byte[] png = browser.driver.getScreenshotAs(OutputType.BYTES);
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        long width = ((Number) script(browser.driver, "return window.innerWidth")).longValue();
        assertEquals(width, image.getWidth(), name + ": a screenshot of the whole window");
        assertTrue(png.length > 10_000, name + " is all but empty");
        Files.write(out.resolve(name), png);
    }

    private static void type(WebDriver driver, String id, String text) {
        WebElement field = driver.findElement(By.id(id));
        field.clear();
        field.sendKeys(text);
    }

    /** Clicks after scrolling the element to the middle of the window, clear of the sticky Generate bar. */
    private static void click(WebDriver driver, By locator) {
        WebElement element = driver.findElement(locator);
        script(driver, "arguments[0].scrollIntoView({block: 'center'})", element);
        element.click();
    }

    private static Object script(WebDriver driver, String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    private static <T> T waitFor(WebDriver driver, Function<WebDriver, T> condition) {
        return new WebDriverWait(driver, Duration.ofSeconds(60), Duration.ofMillis(25)).until(condition::apply);
    }
}
