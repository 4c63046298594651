package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.engine.PipelineEngine;
import daguerre.server.testing.TestServer;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
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
 * Takes the README's screenshots of the UI into {@code docs/screenshots/}: the generate view
 * with a running job, the gallery, the detail view and the page at phone width. The images
 * come from the real {@link PipelineEngine} on the shipped default model (weights/default/model). Not
 * part of the normal test run; run it with
 * {@code mvn -B test -pl server -am -Dgroups=screenshots -DexcludedGroups=none}.
 */
@Tag("screenshots")
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

    @TempDir
    Path dataDir;

    @Test
    void takeScreenshots() throws Exception {
        Path out = Path.of(System.getProperty("daguerre.root", ".")).resolve("docs/screenshots");
        Files.createDirectories(out);
        Path model = Path.of(System.getProperty("daguerre.root", ".")).resolve(DefaultModel.SOURCE_FOLDER);
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), new ModelHasher(), 1);
                var server = TestServer.start(dataDir.resolve("data"), engine, c -> c.withPreviewEvery(1));
                HeadlessChromium browser = HeadlessChromium.start(1280, 900)) {
            for (int i = 0; i < PROMPTS.size(); i++) {
                server.awaitStatus(server.submit("{\"prompt\":\"" + PROMPTS.get(i) + "\",\"seed\":" + (1000 + 17 * i) + "}"),
                        "succeeded");
            }
            WebDriver driver = browser.driver;
            driver.get(server.uri("/").toString());
            waitFor(driver, d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
            waitFor(driver, d -> d.findElements(By.cssSelector("#gallery-grid img")).size() == PROMPTS.size()
                    && d.findElements(By.cssSelector("#gallery-grid img")).stream()
                            .allMatch(img -> !"0".equals(img.getDomProperty("naturalWidth"))));
            String favourite = driver.findElement(By.cssSelector("#gallery-grid li:nth-child(2)")).getDomAttribute("data-image-id");
            server.patch("/api/v1/images/" + favourite, "{\"favorite\":true}");
            driver.navigate().refresh();
            waitFor(driver, d -> !d.findElements(By.cssSelector("#gallery-grid .fav-badge")).isEmpty());

            // Two long jobs (the most steps allowed): the first is running, with its live preview, the second waits.
            driver.findElement(By.id("steps")).clear();
            driver.findElement(By.id("steps")).sendKeys("150");
            driver.findElement(By.id("prompt")).sendKeys("yellow heart, twemoji style, on a purple background");
            driver.findElement(By.id("n")).clear();
            driver.findElement(By.id("n")).sendKeys("2");
            driver.findElement(By.id("seed")).sendKeys("4227072");
            driver.findElement(By.id("generate-button")).click();
            waitFor(driver, d -> !d.findElements(By.cssSelector("#queue li.running .job-preview img")).isEmpty()
                    && d.findElement(By.cssSelector("#queue li.running .job-status")).getText().matches("Step \\d{2,}.*"));
            driver.findElement(By.id("prompt")).clear();
            driver.findElement(By.id("prompt")).sendKeys("rocket, noto style, on a blue background");
            driver.findElement(By.id("seed")).clear();
            driver.findElement(By.id("seed")).sendKeys("12590080");
            driver.findElement(By.id("generate-button")).click();
            waitFor(driver, d -> !d.findElements(By.cssSelector("#queue li.queued")).isEmpty());
            ((JavascriptExecutor) driver).executeScript("document.activeElement.blur(); window.scrollTo(0, 0)");
            Files.write(out.resolve("generate.png"), browser.driver.getScreenshotAs(OutputType.BYTES));
            for (WebElement job : driver.findElements(By.cssSelector("#queue li"))) {
                server.post("/api/v1/jobs/" + job.getDomAttribute("data-job-id") + "/cancel", "{}");
            }
            waitFor(driver, d -> d.findElements(By.cssSelector("#queue li.running, #queue li.queued")).isEmpty());
            ((JavascriptExecutor) driver).executeScript("for (const b of document.querySelectorAll('#queue li button[data-action=dismiss]')) b.click()");
            waitFor(driver, d -> d.findElements(By.cssSelector("#queue li")).isEmpty());

            WebElement gallery = driver.findElement(By.id("gallery"));
            Files.write(out.resolve("gallery.png"), gallery.getScreenshotAs(OutputType.BYTES));

            driver.findElement(By.cssSelector("#gallery-grid li:nth-child(6) button")).click();
            // Read in one script: the details are redrawn when the full metadata arrives.
            waitFor(driver, d -> (Boolean) ((JavascriptExecutor) d).executeScript(
                    "return (document.querySelector(`#detail-meta dd[data-field='seed']`)?.textContent ?? '') !== ''"
                            + " && document.getElementById('detail-img').naturalWidth > 0"));
            Files.write(out.resolve("detail.png"), browser.driver.getScreenshotAs(OutputType.BYTES));
            driver.findElement(By.id("detail-close")).click();

            driver.manage().window().setSize(new Dimension(390, 844));
            driver.navigate().refresh();
            waitFor(driver, d -> "live".equals(d.findElement(By.id("connection")).getDomAttribute("data-state")));
            ((JavascriptExecutor) driver).executeScript("window.scrollTo(0, 0)");
            Files.write(out.resolve("phone.png"), browser.driver.getScreenshotAs(OutputType.BYTES));
        }
        for (String name : List.of("generate.png", "gallery.png", "detail.png", "phone.png")) {
            assertTrue(Files.size(out.resolve(name)) > 10_000, name);
        }
    }

    private static <T> T waitFor(WebDriver driver, Function<WebDriver, T> condition) {
        return new WebDriverWait(driver, Duration.ofSeconds(60), Duration.ofMillis(25)).until(condition::apply);
    }
}
