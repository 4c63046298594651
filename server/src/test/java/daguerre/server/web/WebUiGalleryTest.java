package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.Select;

/**
 * The gallery's Select mode and bulk actions (favourite, move, zip download, delete), boards, and
 * the sort and the sampler, size and date filters, in the browser (set-up: {@link BrowserTestBase}).
 * Each test makes its images with a prompt of its own and searches for it, so that the images of
 * the other tests stay out of its grid.
 */
class WebUiGalleryTest extends BrowserTestBase {

    /** The gallery's image ids in grid order. */
    @SuppressWarnings("unchecked")
    private List<String> tileOrder() {
        return (List<String>) ((JavascriptExecutor) driver).executeScript(
                "return [...document.querySelectorAll('#gallery-grid li')].map(li => li.dataset.imageId)");
    }

    private By tile(String id) {
        return By.cssSelector("li[data-image-id='" + id + "'] button");
    }

    private boolean selected(String id) {
        return "true".equals(driver.findElement(tile(id)).getDomAttribute("aria-pressed"));
    }

    /** Shows only the images with this prompt text, in newest-first order, and waits until they are all there. */
    private List<String> showOnly(String words, List<String> ids) {
        driver.navigate().refresh();
        waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
        type(By.id("search"), words);
        waitFor(d -> Set.copyOf(tileOrder()).equals(Set.copyOf(ids)) && tileOrder().size() == ids.size());
        return tileOrder();
    }

    /** The text of a board's button ("Owls (2)"), or null when there is none (read in one script: the row is redrawn as counts change). */
    private String chip(String board) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return document.querySelector(`#board-list button[data-board='${arguments[0]}']`)?.textContent ?? null", board);
    }

    private void enterSelectMode() {
        click(By.id("select-mode"));
        waitFor(d -> d.findElement(By.id("selection-bar")).isDisplayed());
    }

    private String selectionCount() {
        return driver.findElement(By.id("selection-count")).getText();
    }

    private JsonNode metadata(String id) throws Exception {
        return TestServer.json(server.get("/api/v1/images/" + id + "/metadata"));
    }

    @Test
    void selectModeTogglesShiftClickSelectsARangeAndFavouritesInBulk() throws Exception {
        List<String> ids = showOnly("bulkstar", generated("{\"prompt\":\"bulkstar, twemoji style\",\"steps\":2,\"n\":4}"));
        enterSelectMode();
        assertEquals("0 selected", selectionCount());
        assertFalse(driver.findElement(By.id("bulk-favorite")).isEnabled(), "nothing to act on yet");
        click(tile(ids.get(0)));
        new Actions(driver).keyDown(Keys.SHIFT).click(driver.findElement(tile(ids.get(2)))).keyUp(Keys.SHIFT).perform();
        waitFor(d -> "3 selected".equals(selectionCount()));
        assertTrue(selected(ids.get(1)), "the range between the two clicks");
        assertFalse(selected(ids.get(3)));
        assertFalse(isOpen("detail"), "in Select mode a click selects instead of opening");
        driver.findElement(tile(ids.get(3))).sendKeys(Keys.SPACE);
        waitFor(d -> "4 selected".equals(selectionCount()));
        click(tile(ids.get(0)));
        waitFor(d -> "3 selected".equals(selectionCount()));

        click(By.id("bulk-favorite"));
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid .fav-badge")).size() == 3);
        for (String id : ids) {
            assertEquals(!id.equals(ids.get(0)), metadata(id).get("favorite").asBoolean(), id);
        }
        assertTrue(selected(ids.get(1)), "the selection stays for the next action");

        click(By.id("select-all"));
        waitFor(d -> "4 selected".equals(selectionCount()));
        click(By.id("bulk-unfavorite"));
        waitFor(d -> d.findElements(By.cssSelector("#gallery-grid .fav-badge")).isEmpty());
        for (String id : ids) {
            assertFalse(metadata(id).get("favorite").asBoolean(), id);
        }

        driver.findElement(tile(ids.get(1))).sendKeys(Keys.ESCAPE);
        waitFor(d -> !d.findElement(By.id("selection-bar")).isDisplayed());
        assertEquals("false", driver.findElement(By.id("select-mode")).getDomAttribute("aria-pressed"));
        click(tile(ids.get(1)));
        waitFor(d -> isOpen("detail"));
    }

    @Test
    void bulkDeleteAsksOnceThenDeletesEverySelectedImage() throws Exception {
        List<String> ids = showOnly("bulkgone", generated("{\"prompt\":\"bulkgone, noto style\",\"steps\":2,\"n\":3}"));
        enterSelectMode();
        click(tile(ids.get(0)));
        click(tile(ids.get(2)));
        click(By.id("bulk-delete"));
        waitFor(d -> isOpen("confirm-bulk-delete"));
        assertEquals("Delete the 2 selected images?", driver.findElement(By.id("confirm-bulk-delete-title")).getText());
        click(By.id("confirm-bulk-delete-cancel"));
        waitFor(d -> !isOpen("confirm-bulk-delete"));
        assertEquals(200, server.getBytes("/api/v1/images/" + ids.get(0)).statusCode());

        click(By.id("bulk-delete"));
        waitFor(d -> isOpen("confirm-bulk-delete"));
        click(By.id("confirm-bulk-delete-ok"));
        waitFor(d -> tileOrder().equals(List.of(ids.get(1))));
        assertFalse(isOpen("confirm-bulk-delete"));
        assertEquals(404, server.getBytes("/api/v1/images/" + ids.get(0)).statusCode());
        assertEquals(404, server.getBytes("/api/v1/images/" + ids.get(2)).statusCode());
        assertEquals(200, server.getBytes("/api/v1/images/" + ids.get(1)).statusCode());
        assertEquals("0 selected", selectionCount());
    }

    @Test
    void downloadAsZipGivesTheSelectedPngsAsStored() throws Exception {
        List<String> ids = showOnly("zipped", generated("{\"prompt\":\"zipped fox, twemoji style\",\"steps\":2,\"n\":3}"));
        // keep the blob the page hands to its download link
        ((JavascriptExecutor) driver).executeScript("""
                const original = URL.createObjectURL;
                URL.createObjectURL = (blob) => { window.zipBlob = blob; return original(blob); };""");
        enterSelectMode();
        click(tile(ids.get(0)));
        click(tile(ids.get(1)));
        click(By.id("bulk-zip"));
        String base64 = (String) ((JavascriptExecutor) driver).executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                const wait = () => {
                  if (!window.zipBlob) { setTimeout(wait, 25); return; }
                  const reader = new FileReader();
                  reader.onload = () => done(reader.result.split(',')[1]);
                  reader.readAsDataURL(window.zipBlob);
                };
                wait();""");
        Map<String, byte[]> entries = new LinkedHashMap<>();
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(Base64.getDecoder().decode(base64)))) {
            for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
                entries.put(entry.getName(), zip.readAllBytes());
            }
        }
        List<String> expected = List.of("zipped-fox-twemoji-style-" + ids.get(0) + ".png", "zipped-fox-twemoji-style-" + ids.get(1) + ".png");
        assertEquals(expected, List.copyOf(entries.keySet()));
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(server.getBytes("/api/v1/images/" + ids.get(i)).body(), entries.get(expected.get(i)));
        }
        assertFalse(driver.findElement(By.id("selection-error")).isDisplayed());
    }

    @Test
    void boardsAreMadeFilledFilteredRenamedAndDeletedKeepingTheirImages() throws Exception {
        List<String> ids = showOnly("boarded", generated("{\"prompt\":\"boarded owl, noto style\",\"steps\":2,\"n\":3}"));
        click(By.id("board-new"));
        waitFor(d -> isOpen("board-dialog"));
        assertEquals("board-name", driver.switchTo().activeElement().getDomAttribute("id"));
        driver.switchTo().activeElement().sendKeys("Owls", Keys.ENTER);
        By owls = By.xpath("//ul[@id='board-list']//button[starts-with(normalize-space(.), 'Owls ')]");
        String boardId = waitFor(d -> d.findElement(owls)).getDomAttribute("data-board");
        assertFalse(isOpen("board-dialog"));
        assertEquals("Owls (0)", chip(boardId));

        // a second board of the same name is refused, the server's message shown in the dialog
        click(By.id("board-new"));
        waitFor(d -> isOpen("board-dialog"));
        driver.switchTo().activeElement().sendKeys("owls", Keys.ENTER);
        WebElement error = waitFor(d -> d.findElement(By.id("board-name-error")));
        waitFor(d -> error.isDisplayed());
        assertTrue(error.getText().contains("exists already"), error.getText());
        click(By.id("board-cancel"));
        waitFor(d -> !isOpen("board-dialog"));

        enterSelectMode();
        click(tile(ids.get(0)));
        click(tile(ids.get(1)));
        new Select(driver.findElement(By.id("bulk-board"))).selectByValue(boardId);
        click(By.id("bulk-move"));
        waitFor(d -> "Owls (2)".equals(chip(boardId)));
        assertEquals(boardId, metadata(ids.get(0)).get("board").asText());
        assertTrue(metadata(ids.get(2)).get("board").isNull());

        assertFalse(driver.findElement(By.id("board-rename")).isDisplayed(), "all images: no board to rename");
        assertFalse(driver.findElement(By.id("board-delete")).isDisplayed());
        By owlsChip = By.cssSelector("#board-list button[data-board='" + boardId + "']");
        click(owlsChip);
        waitFor(d -> d.findElement(By.id("board-rename")).isDisplayed());
        waitFor(d -> Set.copyOf(tileOrder()).equals(Set.of(ids.get(0), ids.get(1))));
        waitFor(d -> "true".equals(d.findElement(owlsChip).getDomAttribute("aria-pressed")));
        click(By.cssSelector("#board-list button[data-board='none']"));
        waitFor(d -> tileOrder().equals(List.of(ids.get(2))));
        click(owlsChip);
        waitFor(d -> tileOrder().size() == 2);

        click(By.id("board-rename"));
        waitFor(d -> isOpen("board-dialog"));
        assertEquals("Owls", value("board-name"));
        type(By.id("board-name"), "Night owls");
        click(By.id("board-save"));
        waitFor(d -> !isOpen("board-dialog"));
        waitFor(d -> "Night owls (2)".equals(chip(boardId)));

        click(By.id("board-delete"));
        waitFor(d -> isOpen("confirm-board-delete"));
        assertTrue(driver.findElement(By.id("confirm-board-delete-text")).getText().contains("2 images stay in the gallery"));
        click(By.id("confirm-board-delete-ok"));
        waitFor(d -> chip(boardId) == null);
        waitFor(d -> "true".equals(d.findElement(By.cssSelector("#board-list button[data-board='']")).getDomAttribute("aria-pressed")));
        waitFor(d -> Set.copyOf(tileOrder()).equals(Set.copyOf(ids)));
        for (String id : ids) {
            assertTrue(metadata(id).get("board").isNull(), "the image stays, on no board");
        }
    }

    @Test
    void sortsOldestFirstAndFiltersBySamplerSizeAndDate() throws Exception {
        List<String> made = new ArrayList<>();
        made.add(generated("{\"prompt\":\"sortable one\",\"steps\":2,\"sampler\":\"ddim\",\"width\":128,\"height\":64}").get(0));
        made.add(generated("{\"prompt\":\"sortable two\",\"steps\":2,\"sampler\":\"euler\"}").get(0));
        made.add(generated("{\"prompt\":\"sortable three\",\"steps\":2,\"sampler\":\"euler\"}").get(0));
        List<String> newest = showOnly("sortable", made);
        assertEquals(List.of(made.get(2), made.get(1), made.get(0)), newest);

        new Select(driver.findElement(By.id("sort"))).selectByValue("oldest");
        waitFor(d -> tileOrder().equals(made));
        assertEquals("Images, oldest first", driver.findElement(By.id("gallery-grid")).getDomAttribute("aria-label"));
        new Select(driver.findElement(By.id("sort"))).selectByValue("newest");
        waitFor(d -> tileOrder().equals(newest));

        Select sampler = new Select(driver.findElement(By.id("filter-sampler")));
        waitFor(d -> sampler.getOptions().size() > 1);
        sampler.selectByValue("ddim");
        waitFor(d -> tileOrder().equals(List.of(made.get(0))));
        sampler.selectByValue("");
        waitFor(d -> tileOrder().size() == 3);

        Select size = new Select(driver.findElement(By.id("filter-size")));
        waitFor(d -> size.getOptions().stream().anyMatch(o -> "128x64".equals(o.getDomAttribute("value"))));
        assertEquals("128×64", size.getOptions().stream().filter(o -> "128x64".equals(o.getDomAttribute("value"))).findFirst()
                .orElseThrow().getText());
        size.selectByValue("128x64");
        waitFor(d -> tileOrder().equals(List.of(made.get(0))));
        size.selectByValue("");
        waitFor(d -> tileOrder().size() == 3);

        // the browser's own today and tomorrow, as a date input holds them
        setDate("filter-from", "new Date().toLocaleDateString('en-CA')");
        setDate("filter-to", "new Date().toLocaleDateString('en-CA')");
        waitFor(d -> tileOrder().equals(newest));
        setDate("filter-from", "new Date(Date.now() + 86400000).toLocaleDateString('en-CA')");
        setDate("filter-to", "''");
        waitFor(d -> d.findElement(By.id("gallery-empty")).isDisplayed());
        assertTrue(driver.findElement(By.id("gallery-empty")).getText().contains("No image matches"));
        click(By.cssSelector("#gallery-empty button"));
        waitFor(d -> value("filter-from").isEmpty() && tileIds().containsAll(made));
    }

    /** Sets a date filter to the value of a script expression, as picking a date does (a change event). */
    private void setDate(String id, String expression) {
        ((JavascriptExecutor) driver).executeScript("const input = document.getElementById(arguments[0]); input.value = " + expression
                + "; input.dispatchEvent(new Event('change'));", id);
    }

    @Test
    void theGalleryControlsAreLabelledAndFitAPhoneInSelectMode() throws Exception {
        String board = TestServer.json(server.post("/api/v1/boards", "{\"name\":\"Phone board\"}")).get("id").asText();
        showOnly("labelled", generated("{\"prompt\":\"labelled gallery\",\"steps\":2}"));
        enterSelectMode();
        click(By.id("select-all"));
        waitFor(d -> "1 selected".equals(selectionCount()));
        waitFor(d -> !d.findElements(By.cssSelector("#board-list button[data-board='" + board + "']")).isEmpty());
        click(By.cssSelector("#board-list button[data-board='" + board + "']"));
        waitFor(d -> d.findElement(By.id("board-rename")).isDisplayed());
        assertEquals(List.of(), unlabelledControls("#gallery"));

        driver.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        waitFor(d -> ((Number) ((JavascriptExecutor) d).executeScript("return window.innerWidth")).intValue() <= 400);
        long overflow = (Long) ((JavascriptExecutor) driver).executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assertEquals(0, overflow);
        assertTrue(driver.findElement(By.id("selection-bar")).isDisplayed());
    }
}
