package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;

/**
 * The batch view end to end (see {@link BrowserTestBase} for the set-up): a prompt file's lines with
 * their parsed prompts, statuses, errors and thumbnails, the summary and overall progress, Cancel for
 * the whole batch, and the list of recent batches that reopens one after a reload.
 */
class WebUiBatchTest extends BrowserTestBase {

    @Test
    void aBatchShowsEachLinesPromptStatusErrorAndThumbnail() throws Exception {
        Path file = dataDir.resolve("prompts.txt");
        Files.writeString(file, "batch heart, twemoji style, on a blue background\n"
                + "--prompt \"batch circle, noto style\" --steps 4 --seed 7\n"
                + "--prompt \"batch broken\" --steps 9999\n");
        driver.findElement(By.id("batch-file")).sendKeys(file.toString());
        waitFor(d -> "succeeded".equals(lineStatus(1)) && "succeeded".equals(lineStatus(2)));
        assertEquals("invalid", lineStatus(3));
        waitFor(d -> text("#batch-summary").equals("prompts.txt: 2 of 3 done, 1 invalid."));

        // the prompt column shows the parsed prompt; the line as written is its tooltip
        assertEquals("batch circle, noto style", text("#batch-lines tr[data-line='2'] .line-text"));
        assertEquals("--prompt \"batch circle, noto style\" --steps 4 --seed 7",
                driver.findElement(By.cssSelector("#batch-lines tr[data-line='2'] .line-text")).getDomAttribute("title"));
        String bad = text("#batch-lines tr[data-line='3']");
        assertTrue(bad.contains("batch broken") && bad.contains("steps must be between 1 and 150"), bad);
        assertTrue(bad.contains("--prompt \"batch broken\" --steps 9999"), "the error row shows the line as written: " + bad);

        // each finished line links its image, with its thumbnail loaded
        String batchId = TestServer.json(server.get("/api/v1/batches?limit=1")).at("/items/0/id").asText();
        JsonNode lines = TestServer.json(server.get("/api/v1/batches/" + batchId)).get("lines");
        for (int line = 1; line <= 2; line++) {
            String imageId = lines.get(line - 1).at("/images/0").asText();
            String selector = "#batch-lines tr[data-line='" + line + "'] a.line-thumb";
            @SuppressWarnings("unchecked")
            Map<String, Object> thumbnail = waitFor(d -> (Map<String, Object>) ((JavascriptExecutor) d).executeScript("""
                    const a = document.querySelector(arguments[0]);
                    const img = a?.querySelector('img');
                    return img && img.complete && img.naturalWidth > 0 && a.href
                        ? {href: a.getAttribute('href'), id: a.dataset.imageId, alt: img.alt} : null;""", selector));
            assertEquals("/api/v1/images/" + imageId, thumbnail.get("href"));
            assertEquals(imageId, thumbnail.get("id"));
            assertTrue(((String) thumbnail.get("alt")).startsWith("Line " + line + ": batch "), thumbnail.toString());
        }
        assertEquals("1", driver.findElement(By.id("batch-progress")).getDomProperty("value"));
        assertEquals("100 %", text("#batch-progress-text"));
        assertTrue(!driver.findElement(By.id("batch-cancel")).isDisplayed(), "nothing is left to cancel");
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid img[alt^='batch ']")).size() == 2);
        assertEquals(List.of(), unlabelledControls("#batch-panel"));

        // at phone width the table fits without sideways scrolling
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        waitFor(d -> ((Number) ((JavascriptExecutor) d).executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")).intValue() <= 0);

        // after a reload the batch is in the recent list and opens again
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
        openPage();
        By reopen = By.cssSelector("#batch-recent li[data-batch-id='" + batchId + "'] button");
        waitFor(d -> d.findElement(reopen));
        click(reopen);
        waitFor(d -> "succeeded".equals(lineStatus(1)) && "invalid".equals(lineStatus(3)));
        assertTrue(text("#batch-recent li[data-batch-id='" + batchId + "']").startsWith("prompts.txt, "));
        assertEquals("prompts.txt: 2 of 3 done, 1 invalid.", text("#batch-summary"));
        assertEquals("batch circle, noto style", text("#batch-lines tr[data-line='2'] .line-text"));
    }

    @Test
    void cancellingABatchCancelsItsRunningAndQueuedLines() throws Exception {
        Path file = dataDir.resolve("long.txt");
        // long enough (100 steps each) that the first line is still running when Cancel is clicked
        Files.writeString(file, "--prompt \"long heart\" --steps 100\n--prompt \"long circle\" --steps 100\n"
                + "--prompt \"long star\" --steps 100\n");
        driver.findElement(By.id("batch-file")).sendKeys(file.toString());
        waitFor(d -> "running".equals(lineStatus(1)) && text("#batch-progress-text").contains("left"));
        assertTrue(text("#batch-summary").startsWith("long.txt: 0 of 3 done, 3 running or queued"), text("#batch-summary"));
        assertTrue(text("#batch-lines tr[data-line='1']").contains("running"), text("#batch-lines tr[data-line='1']"));
        click(By.id("batch-cancel"));
        waitFor(d -> "cancelled".equals(lineStatus(1)) && "cancelled".equals(lineStatus(2)) && "cancelled".equals(lineStatus(3)));
        waitFor(d -> text("#batch-summary").equals("long.txt: 3 of 3 done (3 cancelled)."));
        assertTrue(!driver.findElement(By.id("batch-cancel")).isDisplayed());
        assertEquals(0, driver.findElements(By.cssSelector("#batch-lines a.line-thumb")).size(), "no line made an image");
    }

    private String text(String selector) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return document.querySelector(arguments[0])?.textContent.trim() ?? ''", selector);
    }
}
