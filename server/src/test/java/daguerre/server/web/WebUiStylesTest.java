package daguerre.server.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.support.ui.Select;

/** The Styles control of the generate form (see {@link BrowserTestBase} for the set-up): A1111's styles.csv in the page. */
class WebUiStylesTest extends BrowserTestBase {

    private void openStyles() {
        click(By.cssSelector("#styles summary"));
        waitFor(d -> d.findElement(By.id("style-picker")).isDisplayed());
    }

    private String status() {
        return driver.findElement(By.id("styles-status")).getText();
    }

    private String error() {
        return driver.findElement(By.id("styles-error")).getText();
    }

    private List<String> pickerNames() {
        return new Select(driver.findElement(By.id("style-picker"))).getOptions().stream().map(o -> o.getDomAttribute("value"))
                .filter(v -> !v.isEmpty()).toList();
    }

    @Test
    void saveTheBoxesAsAStyleApplyItToAnotherPromptThenDeleteIt() throws Exception {
        openStyles();
        type(By.id("prompt"), "a portrait of {prompt}, oil painting");
        type(By.id("negative_prompt"), "blurry");
        type(By.id("style-name"), "Oil portrait");
        click(By.id("style-save"));
        waitFor(d -> status().equals("The style “Oil portrait” is saved."));
        assertEquals("{\"name\":\"Oil portrait\",\"prompt\":\"a portrait of {prompt}, oil painting\",\"negative_prompt\":\"blurry\"}",
                server.get("/api/v1/styles/Oil%20portrait").body());
        assertEquals("Oil portrait", value("style-picker"), "the saved style is picked");
        assertTrue(driver.findElement(By.id("style-preview")).getText().contains("a portrait of {prompt}"));

        type(By.id("prompt"), "a cat");
        type(By.id("negative_prompt"), "dark");
        click(By.id("style-apply"));
        assertEquals("a portrait of a cat, oil painting", value("prompt"), "{prompt} wraps the prompt");
        assertEquals("dark, blurry", value("negative_prompt"), "without {prompt} the style is appended");

        // the same name again asks before replacing; Enter in the name field saves, and queues nothing
        type(By.id("style-name"), "Oil portrait");
        driver.findElement(By.id("style-name")).sendKeys(org.openqa.selenium.Keys.ENTER);
        waitFor(d -> isOpen("confirm-style"));
        assertEquals("Replace the style “Oil portrait”?", driver.findElement(By.id("confirm-style-title")).getText());
        click(By.id("confirm-style-cancel"));
        waitFor(d -> !isOpen("confirm-style"));
        assertTrue(server.get("/api/v1/styles/Oil%20portrait").body().contains("{prompt}"), "kept as it was");
        assertTrue(driver.findElements(By.cssSelector("#queue li")).isEmpty());

        click(By.id("style-delete"));
        waitFor(d -> isOpen("confirm-style"));
        click(By.id("confirm-style-ok"));
        waitFor(d -> status().equals("The style “Oil portrait” is deleted."));
        assertEquals(404, server.get("/api/v1/styles/Oil%20portrait").statusCode());
        assertEquals(List.of(), pickerNames());
        assertTrue(driver.findElement(By.id("style-apply")).getDomProperty("disabled").equals("true"));

        type(By.id("style-name"), "Empty");
        driver.findElement(By.id("prompt")).clear();
        driver.findElement(By.id("negative_prompt")).clear();
        click(By.id("style-save"));
        assertEquals("Write a prompt or a negative prompt to save as a style.", error());
    }

    @Test
    void importAnA1111StylesCsvMergedOrReplacingAndExportIt() throws Exception {
        openStyles();
        server.send(java.net.http.HttpRequest.newBuilder(server.uri("/api/v1/styles/Mine")).header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"prompt\":\"mine\"}")));
        Path a1111 = dataDir.resolve("a1111-styles.csv");
        Files.writeString(a1111, "\uFEFFname,prompt,negative_prompt\r\nCinematic,\"{prompt}, cinematic, 35mm\",\"cartoon,\r\nanime\"\r\n"
                + "Sketch,pencil sketch,\r\n", StandardCharsets.UTF_8);
        driver.findElement(By.id("styles-file")).sendKeys(a1111.toString());
        waitFor(d -> status().equals("2 styles imported from a1111-styles.csv."));
        driver.navigate().refresh(); // the picker lists them from the server
        waitFor(d -> "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-ready")));
        openStyles();
        assertEquals(List.of("Mine", "Cinematic", "Sketch"), pickerNames());

        Path broken = dataDir.resolve("broken.csv");
        Files.writeString(broken, "name,prompt\nok,fine\nbroken,\"never closed\n");
        driver.findElement(By.id("styles-file")).sendKeys(broken.toString());
        waitFor(d -> error().startsWith("broken.csv was not imported:"));
        assertTrue(error().contains("line 3"), error());
        assertEquals(3, TestServer.json(server.get("/api/v1/styles")).get("items").size(), "nothing changed");

        ((JavascriptExecutor) driver).executeScript("""
                window.exported = null;
                const original = URL.createObjectURL;
                URL.createObjectURL = (blob) => {
                  blob.arrayBuffer().then((bytes) => { window.exported = btoa(String.fromCharCode(...new Uint8Array(bytes))); });
                  return original(blob);
                };""");
        click(By.id("styles-export"));
        String exported = waitFor(d -> (String) ((JavascriptExecutor) d).executeScript("return window.exported"));
        String file = new String(java.util.Base64.getDecoder().decode(exported), StandardCharsets.UTF_8);
        assertEquals(new String(server.getBytes("/api/v1/styles.csv").body(), StandardCharsets.UTF_8), file,
                "the server's file byte for byte, BOM and CRLF included");
        assertTrue(file.startsWith("\uFEFFname,prompt,negative_prompt\r\nMine,mine,\r\n"), file);

        Path only = dataDir.resolve("only.csv");
        Files.writeString(only, "name,prompt,negative_prompt\nOnly,only,\n");
        click(By.id("styles-replace"));
        driver.findElement(By.id("styles-file")).sendKeys(only.toString());
        waitFor(d -> status().equals("1 style imported from only.csv, replacing the others."));
        assertEquals(List.of("Only"), pickerNames());
    }

    @Test
    void theStylesControlsHaveLabelsAndFitAPhone() {
        openStyles();
        assertEquals(List.of(), unlabelledControls("#styles"));
        assertEquals(List.of(), unlabelledControls("#pnginfo-panel"));
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        waitFor(d -> ((Number) ((JavascriptExecutor) d).executeScript("return window.innerWidth")).intValue() <= 400);
        assertEquals(0L, ((JavascriptExecutor) driver).executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"));
    }
}
