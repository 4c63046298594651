package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.TestServer;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

/**
 * The generation view (see {@link BrowserTestBase} for the set-up): the running job's large live preview and
 * its progress in the tab's title, the queue rows' parameters and re-runs, the sticky Generate bar, the init
 * image's Remove button, the size presets' pressed state and the prompt history.
 */
class WebUiGenerationTest extends BrowserTestBase {

    private Object script(String js, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(js, args);
    }

    private long sidewaysOverflow() {
        return (Long) script("return document.documentElement.scrollWidth - document.documentElement.clientWidth");
    }

    /** Once the running job has a preview and a step done: the live preview's geometry and texts, in one script. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> livePreview() {
        return waitFor(d -> (Map<String, Object>) script("""
                const live = document.getElementById('live');
                const img = document.getElementById('live-image');
                const status = document.getElementById('live-status').textContent;
                if (live.hidden || img.hidden || !/^Step [1-9]/.test(status)) return null;
                const frame = document.getElementById('live-frame').getBoundingClientRect();
                const panel = document.getElementById('queue-panel').getBoundingClientRect();
                return {status, title: document.title, src: img.getAttribute('src'), alt: img.alt,
                        progress: String(document.getElementById('live-progress').value),
                        width: frame.width, height: frame.height, left: frame.left, right: frame.right,
                        panelLeft: panel.left, panelRight: panel.right, windowHeight: window.innerHeight};"""));
    }

    @Test
    void theRunningJobHasALargeLivePreviewAtItsAspectRatioAndItsProgressInTheTitle() throws Exception {
        assertEquals("Daguerre", driver.getTitle());
        type(By.id("prompt"), "live preview, twemoji style");
        type(By.id("steps"), "40");
        type(By.id("width"), "128");
        type(By.id("height"), "64");
        click(By.id("generate-button"));
        Map<String, Object> live = livePreview();
        String status = (String) live.get("status");
        assertTrue(status.matches("Step \\d+ / 40 · \\d+%.*"), status);
        int step = Integer.parseInt(status.replaceAll("Step (\\d+) .*", "$1"));
        int percent = Integer.parseInt(status.replaceAll(".* (\\d+)%.*", "$1"));
        assertEquals(Math.round(100.0 * step / 40), percent, status);
        assertEquals(Integer.toString(step), live.get("progress"));
        String title = (String) live.get("title");
        assertTrue(title.matches("\\[\\d+%\\] Daguerre"), title);
        assertTrue(((String) live.get("src")).startsWith("data:image/png;base64,"));
        assertEquals("Live preview of “live preview, twemoji style”", live.get("alt"));
        double width = ((Number) live.get("width")).doubleValue();
        double height = ((Number) live.get("height")).doubleValue();
        assertEquals(2.0, width / height, 0.02, "the job's 128x64 aspect ratio: " + live);
        assertTrue(width >= 400, "large at 1280x900: " + live);
        assertTrue(height <= ((Number) live.get("windowHeight")).doubleValue() * 0.6, "fits the window's height: " + live);
        assertTrue(((Number) live.get("left")).doubleValue() >= ((Number) live.get("panelLeft")).doubleValue()
                && ((Number) live.get("right")).doubleValue() <= ((Number) live.get("panelRight")).doubleValue(), "inside the queue panel: " + live);

        waitFor(d -> !d.findElements(By.cssSelector("#gallery-grid img[alt='live preview, twemoji style']")).isEmpty());
        waitFor(d -> "Daguerre".equals(d.getTitle()));
        waitFor(d -> !d.findElement(By.id("live")).isDisplayed());

        // phone width: a square job's preview fills the width without sideways scrolling; Cancel stops it
        driver.manage().window().setSize(new Dimension(390, 844));
        waitFor(d -> ((Number) script("return window.innerWidth")).intValue() <= 400);
        type(By.id("prompt"), "live on a phone, noto style");
        type(By.id("steps"), "150");
        type(By.id("width"), "64");
        type(By.id("height"), "64");
        click(By.id("generate-button"));
        Map<String, Object> phone = livePreview();
        double phoneWidth = ((Number) phone.get("width")).doubleValue();
        assertEquals(1.0, phoneWidth / ((Number) phone.get("height")).doubleValue(), 0.02, phone.toString());
        assertTrue(phoneWidth >= 300 && ((Number) phone.get("right")).doubleValue() <= 390, phone.toString());
        assertEquals(0, sidewaysOverflow());
        assertEquals(List.of(), unlabelledControls("#queue-panel"));
        WebElement running = driver.findElement(By.cssSelector("#queue li.running"));
        click(By.cssSelector("#queue li.running button[data-action='cancel']"));
        waitFor(d -> "cancelled".equals(running.getDomAttribute("data-status")));
        waitFor(d -> "Daguerre".equals(d.getTitle()));
    }

    /** Records the answers to the page's re-run requests in {@code window.reruns}. */
    private void recordReruns() {
        script("""
                window.reruns = [];
                const original = window.fetch;
                window.fetch = async (url, options) => {
                  const response = await original(url, options);
                  if (String(url).endsWith('/rerun')) window.reruns.push(await response.clone().json());
                  return response;
                };""");
    }

    /** The job id of the page's {@code count}th re-run, once it was accepted. */
    private String rerunJob(int count) {
        return waitFor(d -> (String) script("return window.reruns.length >= arguments[0] ? window.reruns[arguments[0] - 1].id : null", count));
    }

    @Test
    void queueRowsShowTheParametersAndAFinishedJobRunsAgainWithItsSeedOrANewOne() throws Exception {
        // a long job ahead keeps the next one queued while its row is read
        String blocker = server.submit("{\"prompt\":\"blocker\",\"steps\":150}");
        String prompt = "run again, twemoji style, on a red background";
        type(By.id("prompt"), prompt);
        type(By.id("steps"), "3");
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("sampler"))).selectByValue("ddim");
        new org.openqa.selenium.support.ui.Select(driver.findElement(By.id("model"))).selectByValue(TWIN);
        click(By.id("generate-button"));
        WebElement queued = waitFor(d -> d.findElement(By.cssSelector("#queue li[data-status='queued']")));
        String jobId = queued.getDomAttribute("data-job-id");
        JsonNode request = TestServer.json(server.get("/api/v1/jobs/" + jobId)).get("request");
        String size = request.get("width").asText() + "×" + request.get("height").asText();
        String meta = size + " · 3 steps · DDIM · " + TWIN + " · seed " + request.get("seed").asText();
        assertEquals(meta, queued.findElement(By.className("job-meta")).getText(), "the seed the server chose for a random one");
        server.post("/api/v1/jobs/" + blocker + "/cancel", "");
        String image = server.awaitStatus(jobId, "succeeded").get("images").get(0).asText();

        WebElement history = waitFor(d -> d.findElement(By.cssSelector("#history li[data-job-id='" + jobId + "']")));
        click(By.cssSelector("#history-details summary"));
        assertEquals(meta, history.findElement(By.className("job-meta")).getText());
        assertEquals(List.of(), unlabelledControls("#history-panel"));
        recordReruns();
        click(By.cssSelector("#history li[data-job-id='" + jobId + "'] button[data-action='again']"));
        JsonNode again = server.awaitStatus(rerunJob(1), "succeeded");
        assertEquals(request, again.get("request"), "the same parameters and seed");
        assertArrayEquals(pixels(image), pixels(again.get("images").get(0).asText()), "the same image");

        click(By.cssSelector("#history li[data-job-id='" + jobId + "'] button[data-action='new-seed']"));
        JsonNode renewed = server.awaitStatus(rerunJob(2), "succeeded");
        assertNotEquals(request.get("seed"), renewed.at("/request/seed"));
        assertEquals(request, ((com.fasterxml.jackson.databind.node.ObjectNode) renewed.get("request")).set("seed", request.get("seed")),
                "the same parameters, a new seed");
        waitFor(d -> d.findElements(By.cssSelector("#history li[data-job-id='" + renewed.get("id").asText() + "']")).size() == 1);

        driver.manage().window().setSize(new Dimension(390, 844));
        waitFor(d -> ((Number) script("return window.innerWidth")).intValue() <= 400);
        assertEquals(0, sidewaysOverflow(), "the recent jobs fit a phone's width");
    }

    @Test
    void theStickyGenerateButtonNeverCoversAFieldScrolledIntoView() throws Exception {
        Path png = dataDir.resolve("covered-init.png");
        ImageIO.write(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        click(By.cssSelector("#hires summary"));
        click(By.cssSelector("#styles summary"));
        click(By.cssSelector("#img2img summary"));
        driver.findElement(By.id("init-file")).sendKeys(png.toString());
        waitFor(d -> d.findElement(By.id("mask-tools")).isDisplayed());
        for (Dimension size : List.of(new Dimension(1280, 900), new Dimension(390, 844))) {
            driver.manage().window().setSize(size);
            waitFor(d -> Math.abs(((Number) script("return window.innerWidth")).intValue() - size.getWidth()) < 20);
            @SuppressWarnings("unchecked")
            List<String> covered = (List<String>) script("""
                    window.scrollTo(0, 0);
                    const covered = [];
                    for (const field of document.querySelectorAll('#generate-form input, #generate-form select, #generate-form textarea')) {
                      const box = field.getBoundingClientRect();
                      if (box.width < 4 || box.height < 4 || !field.checkVisibility({visibilityProperty: true})) continue; // not on screen (hidden, or in a closed section)
                      field.scrollIntoView({block: 'nearest'});
                      const now = field.getBoundingClientRect();
                      // its centre, and its top and bottom edges (1 px in): the whole field is clear of the bar
                      for (const y of [now.top + now.height / 2, now.top + 1, now.bottom - 1]) {
                        const hit = document.elementFromPoint(now.left + now.width / 2, y);
                        if (!hit || !(hit === field || field.contains(hit))) {
                          covered.push(`${field.id || field.name} at y ${Math.round(y)} under ${hit ? hit.id || hit.className || hit.tagName : 'nothing'}`);
                          break;
                        }
                      }
                    }
                    return covered;""");
            assertEquals(List.of(), covered, "at " + size);
        }
    }

    @Test
    void removeImageShowsOnlyOnceAnInitImageIsChosen() throws Exception {
        click(By.cssSelector("#img2img summary"));
        WebElement remove = driver.findElement(By.id("init-remove"));
        assertFalse(remove.isDisplayed(), "no image yet");
        Path png = dataDir.resolve("removable.png");
        ImageIO.write(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        driver.findElement(By.id("init-file")).sendKeys(png.toString());
        waitFor(d -> remove.isDisplayed());
        assertFalse(driver.findElement(By.id("drop-text")).isDisplayed());
        click(By.id("init-remove"));
        assertFalse(remove.isDisplayed());
        assertTrue(driver.findElement(By.id("drop-text")).isDisplayed());
        assertFalse(driver.findElement(By.id("init-preview")).isDisplayed());
    }

    @Test
    void theSizePresetOfTheCurrentSizeIsPressed() {
        assertEquals(List.of("Default"), pressedPresets(), "the model's own size");
        click(By.xpath("//div[@id='size-presets']/button[starts-with(., 'Large')]"));
        assertEquals(List.of("Large"), pressedPresets());
        type(By.id("width"), "72");
        assertEquals(List.of(), pressedPresets(), "a size of one's own matches no preset");
    }

    @SuppressWarnings("unchecked")
    private List<String> pressedPresets() {
        return (List<String>) script("return [...document.querySelectorAll('#size-presets button[aria-pressed=\"true\"]')]"
                + ".map(b => b.textContent.split(' ')[0])");
    }

    @Test
    void thePromptHistoryIsSearchableAndFillsThePromptAndNegativePrompt() throws Exception {
        generated("{\"prompt\":\"history fox, twemoji style\",\"negative_prompt\":\"blurry\",\"steps\":1}");
        generated("{\"prompt\":\"history owl, noto style\",\"steps\":1}");
        generated("{\"prompt\":\"history fox, twemoji style\",\"negative_prompt\":\"blurry\",\"steps\":1,\"seed\":5}");
        click(By.id("prompt-history-button"));
        waitFor(d -> isOpen("prompt-history"));
        assertEquals("prompt-history-search", driver.switchTo().activeElement().getDomAttribute("id"));
        waitFor(d -> historyEntries().size() >= 2);
        List<String> shown = historyEntries();
        assertEquals(List.of("history fox, twemoji style", "history owl, noto style"), shown.subList(0, 2),
                "newest first, each prompt once");
        assertEquals(List.of(), unlabelledControls("#prompt-history"));

        driver.switchTo().activeElement().sendKeys("OWL");
        waitFor(d -> historyEntries().equals(List.of("history owl, noto style")));
        type(By.id("prompt-history-search"), "fox");
        waitFor(d -> historyEntries().equals(List.of("history fox, twemoji style")));
        assertEquals("Negative: blurry", driver.findElement(By.cssSelector("#prompt-history-list .prompt-entry-negative")).getText());
        // the keyboard: down to the entry, Enter picks it
        driver.switchTo().activeElement().sendKeys(Keys.ARROW_DOWN);
        driver.switchTo().activeElement().sendKeys(Keys.ENTER);
        waitFor(d -> !isOpen("prompt-history"));
        assertEquals("history fox, twemoji style", value("prompt"));
        assertEquals("blurry", value("negative_prompt"));
        assertEquals("prompt", driver.switchTo().activeElement().getDomAttribute("id"));

        type(By.id("negative_prompt"), "something else");
        click(By.id("prompt-history-button"));
        type(By.id("prompt-history-search"), "owl");
        waitFor(d -> historyEntries().equals(List.of("history owl, noto style")));
        driver.findElement(By.cssSelector("#prompt-history-list button")).click();
        waitFor(d -> !isOpen("prompt-history"));
        click(By.id("prompt-history-button"));
        driver.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        waitFor(d -> !isOpen("prompt-history"));
        assertEquals("prompt-history-button", driver.switchTo().activeElement().getDomAttribute("id"), "Esc returns to the button");
        assertEquals("history owl, noto style", value("prompt"));
        assertEquals("", value("negative_prompt"), "the entry's own negative prompt: none");
    }

    /** The prompts the history shows (read in one script: the list is redrawn as the search changes). */
    @SuppressWarnings("unchecked")
    private List<String> historyEntries() {
        return (List<String>) script("return [...document.querySelectorAll('#prompt-history-list .prompt-entry-text')].map(e => e.textContent)");
    }
}
