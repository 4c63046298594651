package daguerre.server.web;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Debian's headless Chromium ({@code /usr/bin/chromium}) driven through Debian's ChromeDriver
 * ({@code /usr/bin/chromedriver}), with a fresh profile in a temporary folder. Both paths are
 * given to Selenium explicitly, so Selenium Manager never looks for, or downloads, a driver
 * or a browser.
 */
final class HeadlessChromium implements AutoCloseable {

    static final Path BROWSER = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");

    /**
     * Selenium warns when Debian's Chromium is newer than the DevTools protocol versions it
     * bundles; the tests use WebDriver only, never DevTools. Held here so the setting stays.
     */
    private static final Logger DEVTOOLS_LOG = Logger.getLogger("org.openqa.selenium.devtools");

    static {
        DEVTOOLS_LOG.setLevel(Level.SEVERE);
    }

    final ChromeDriver driver;
    private final Path profile;

    private HeadlessChromium(ChromeDriver driver, Path profile) {
        this.driver = driver;
        this.profile = profile;
    }

    /** Starts the browser with a window of the given size in CSS pixels. */
    static HeadlessChromium start(int width, int height) throws IOException {
        requireInstalled();
        System.setProperty("webdriver.chrome.driver", DRIVER.toString());
        Path profile = Files.createTempDirectory("daguerre-chromium-");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(BROWSER.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "--force-device-scale-factor=1",
                "--lang=en-US");
        options.setCapability("goog:loggingPrefs", java.util.Map.of("browser", "ALL"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort().build();
        try {
            return new HeadlessChromium(new ChromeDriver(service, options), profile);
        } catch (RuntimeException e) {
            deleteTree(profile);
            throw e;
        }
    }

    /** Fails with what to install when Debian's chromium or chromium-driver is missing. */
    static void requireInstalled() {
        for (Path binary : new Path[] {BROWSER, DRIVER}) {
            if (!Files.isExecutable(binary)) {
                throw new AssertionError("Browser tests need " + binary + ", from Debian's packages chromium and chromium-driver: "
                        + "run `apt-get update && apt-get install -y chromium chromium-driver` (.ci/run does this), "
                        + "or leave these tests out with -DexcludedGroups=third-party,screenshots,browser");
            }
        }
    }

    /** The browser console's messages since the last call, one a line (for failure reports). */
    String consoleLog() {
        StringBuilder text = new StringBuilder();
        driver.manage().logs().get("browser").forEach(entry -> text.append(entry.getLevel()).append(' ').append(entry.getMessage())
                .append('\n'));
        return text.toString();
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } finally {
            deleteTree(profile);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the browser profile " + root, e);
        }
    }
}
