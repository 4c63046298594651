package daguerre.server.styles;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.jobs.RequestException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A1111's styles.csv read and written as A1111 does, the {prompt} rule, and a store that never loses styles. */
class StyleStoreTest {

    @TempDir
    Path dataDir;

    /** A file as A1111 (Python's csv.DictWriter, utf-8-sig) writes it: BOM, CRLF, minimal quoting. */
    private static final String A1111_FILE = "\uFEFFname,prompt,negative_prompt\r\n"
            + "Cinematic,\"{prompt}, cinematic still, 35mm\",\"cartoon, \"\"anime\"\"\"\r\n"
            + "Plain,oil painting,\r\n"
            + "Two lines,\"first line\r\nsecond line\",blurry\r\n";

    @Test
    void readsTheFileA1111WritesAndWritesItBackByteForByte() throws Exception {
        List<PromptStyle> styles = StylesCsv.parse(A1111_FILE);
        assertEquals(List.of(new PromptStyle("Cinematic", "{prompt}, cinematic still, 35mm", "cartoon, \"anime\""),
                new PromptStyle("Plain", "oil painting", ""),
                new PromptStyle("Two lines", "first line\r\nsecond line", "blurry")), styles);
        assertEquals(A1111_FILE, StylesCsv.format(styles));
    }

    @Test
    void roundTripsAnyText() throws Exception {
        List<PromptStyle> styles = List.of(new PromptStyle("a, b", " leading space", "\"quoted\"\n, and more"),
                new PromptStyle("élan ✨", "", "tab\there"), new PromptStyle("x", "line\rbreak", "trailing comma,"));
        assertEquals(styles, StylesCsv.parse(StylesCsv.format(styles)));
    }

    @Test
    void readsTheOldFormLfEndingsSpacesAfterCommasAndBlankRows() throws Exception {
        assertEquals(List.of(new PromptStyle("Old", "watercolor", "")), StylesCsv.parse("name,text\n\nOld, watercolor\n\n"));
        assertEquals(List.of(new PromptStyle("Same", "second", "")), StylesCsv.parse("name,prompt\nSame,first\nSame,second\n"),
                "a later row of the same name wins, as in A1111's dictionary");
        assertEquals(List.of(), StylesCsv.parse(""));
    }

    @Test
    void badFilesNameTheLine() {
        StylesCsv.FormatException unclosed = assertThrows(StylesCsv.FormatException.class,
                () -> StylesCsv.parse("name,prompt,negative_prompt\nok,fine,\nbroken,\"never closed,\nmore\n"));
        assertEquals(3, unclosed.line());
        assertTrue(unclosed.getMessage().contains("not closed"), unclosed.getMessage());
        StylesCsv.FormatException extra = assertThrows(StylesCsv.FormatException.class,
                () -> StylesCsv.parse("name,prompt,negative_prompt\r\n\"multi\nline\",a,b\r\nx,a,b,c\r\n"));
        assertEquals(4, extra.line(), "the line count includes the line break inside the quoted field");
        assertEquals(1, assertThrows(StylesCsv.FormatException.class, () -> StylesCsv.parse("title,body\nx,y\n")).line());
        assertEquals(2, assertThrows(StylesCsv.FormatException.class, () -> StylesCsv.parse("name,prompt\n,no name\n")).line());
    }

    @Test
    void thePlaceholderWrapsThePromptElseTheStyleIsAppended() {
        assertEquals("a cat, oil painting", PromptStyle.merge("oil painting", "a cat"));
        assertEquals("oil painting", PromptStyle.merge("oil painting", "  "));
        assertEquals("a cat", PromptStyle.merge("", " a cat "));
        assertEquals("photo of a cat, 35mm, a cat again", PromptStyle.merge("photo of {prompt}, 35mm, {prompt} again", "a cat"));
        PromptStyle.Prompts styled = PromptStyle.applyAll(List.of(new PromptStyle("w", "{prompt}, framed", "ugly"),
                new PromptStyle("s", "signed", "{prompt}, blurry")), new PromptStyle.Prompts("a dog", ""));
        assertEquals(new PromptStyle.Prompts("a dog, framed, signed", "ugly, blurry"), styled, "in the order named");
    }

    @Test
    void changesAreWrittenToTheFileAndSeenByANewStore() throws Exception {
        StyleStore store = new StyleStore(dataDir);
        assertTrue(store.put(new PromptStyle("Noir", "black and white, film grain", "color")));
        assertFalse(store.put(new PromptStyle("Noir", "black and white", "color")), "the same name replaces");
        store.put(new PromptStyle("Warm", "golden hour", ""));
        assertTrue(store.delete("Warm"));
        assertFalse(store.delete("Warm"));
        assertEquals("\uFEFFname,prompt,negative_prompt\r\nNoir,black and white,color\r\n",
                Files.readString(dataDir.resolve("styles.csv"), StandardCharsets.UTF_8));
        assertEquals(store.list(), new StyleStore(dataDir).list());
        try (var files = Files.list(dataDir)) {
            assertEquals(List.of("styles.csv"), files.map(p -> p.getFileName().toString()).toList(), "no temporary file is left");
        }
    }

    @Test
    void anEditByHandIsReadAgainAndNeverOverwritten() throws Exception {
        StyleStore store = new StyleStore(dataDir);
        store.put(new PromptStyle("Mine", "a", ""));
        Path file = dataDir.resolve("styles.csv");
        Files.writeString(file, "name,prompt,negative_prompt\nMine,a,\nTyped in,by hand,\n");
        Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        store.put(new PromptStyle("Later", "b", ""));
        assertEquals(List.of("Mine", "Typed in", "Later"), store.list().stream().map(PromptStyle::name).toList());
    }

    @Test
    void aWriteThatFailsChangesNothing() throws Exception {
        StyleStore store = new StyleStore(dataDir);
        store.put(new PromptStyle("Kept", "a", ""));
        String before = Files.readString(dataDir.resolve("styles.csv"));
        // the temporary file cannot be created: a folder (not empty, so that it stays) is in its place
        Files.createFile(Files.createDirectory(dataDir.resolve(".styles.csv.tmp")).resolve("keep"));
        assertThrows(UncheckedIOException.class, () -> store.put(new PromptStyle("New", "b", "")));
        assertThrows(UncheckedIOException.class, () -> store.importCsv("name,prompt\nOther,c\n", true));
        assertEquals(before, Files.readString(dataDir.resolve("styles.csv")));
        assertEquals(List.of(new PromptStyle("Kept", "a", "")), store.list());
    }

    @Test
    void importMergesOrReplacesAndABadFileChangesNothing() {
        StyleStore store = new StyleStore(dataDir);
        store.put(new PromptStyle("A", "old a", ""));
        store.put(new PromptStyle("B", "b", ""));
        store.importCsv("name,prompt,negative_prompt\nA,new a,\nC,c,\n", false);
        assertEquals(List.of(new PromptStyle("A", "new a", ""), new PromptStyle("B", "b", ""), new PromptStyle("C", "c", "")), store.list());
        RequestException bad = assertThrows(RequestException.class, () -> store.importCsv("name,prompt\nD,\"open\n", true));
        assertEquals(400, bad.status());
        assertTrue(bad.getMessage().contains("line 2"), bad.getMessage());
        assertEquals(3, store.list().size());
        store.importCsv("name,prompt\nD,d\n", true);
        assertEquals(List.of(new PromptStyle("D", "d", "")), store.list());
    }

    @Test
    void unknownNamesAndBadNamesAreRefused() {
        StyleStore store = new StyleStore(dataDir);
        store.put(new PromptStyle("Known", "k", ""));
        RequestException unknown = assertThrows(RequestException.class, () -> store.resolve(List.of("Known", "Missing"), "styles"));
        assertEquals("styles", unknown.field());
        assertEquals("style not found: Missing (styles: Known)", unknown.getMessage());
        for (String name : List.of("", "  ", "two\nlines", "tab\there", "x".repeat(201))) {
            assertThrows(RequestException.class, () -> store.put(new PromptStyle(name, "p", "")), name);
        }
    }

    @Test
    void aBrokenFileOnDiskIsReportedNotReplaced() throws Exception {
        Path file = dataDir.resolve("styles.csv");
        Files.writeString(file, "name,prompt\nx,\"unclosed\n");
        StyleStore store = new StyleStore(dataDir);
        RequestException broken = assertThrows(RequestException.class, store::list);
        assertTrue(broken.getMessage().contains("line 2"), broken.getMessage());
        assertThrows(RequestException.class, () -> store.put(new PromptStyle("New", "n", "")));
        assertEquals("name,prompt\nx,\"unclosed\n", Files.readString(file));
    }
}
