package daguerre.server.styles;

import daguerre.server.files.AtomicFiles;
import daguerre.server.jobs.RequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The prompt styles of a data directory, in its {@code styles.csv} (A1111's file: one can be copied in
 * or out as it is). Every change rewrites the file whole or not at all ({@link AtomicFiles}); a change
 * the file did not take leaves the styles as they were. The file is read again when it changes on disk,
 * so that an edit by hand is seen, and never overwritten with older styles.
 */
public final class StyleStore {

    public static final String FILE_NAME = "styles.csv";
    /** The longest style name. */
    public static final int MAX_NAME_LENGTH = 200;

    private final Path file;
    private List<PromptStyle> styles = List.of();
    /** The file's modification time and size when it was last read or written (null: not read yet). */
    private FileTime readModified;
    private long readSize = -1;

    public StyleStore(Path dataDir) {
        this.file = dataDir.resolve(FILE_NAME);
    }

    /** The file the styles live in. */
    public Path file() {
        return file;
    }

    /** Every style, in file order. */
    public synchronized List<PromptStyle> list() {
        return current();
    }

    public synchronized Optional<PromptStyle> find(String name) {
        return current().stream().filter(style -> style.name().equals(name)).findFirst();
    }

    /**
     * Adds {@code style}, or replaces the style of its name in its place.
     *
     * @return whether it is a new style
     */
    public synchronized boolean put(PromptStyle style) {
        checkName(style.name());
        Map<String, PromptStyle> byName = byName(current());
        boolean created = byName.put(style.name(), style) == null;
        save(List.copyOf(byName.values()));
        return created;
    }

    /** Deletes the style named {@code name}; false when there is none. */
    public synchronized boolean delete(String name) {
        Map<String, PromptStyle> byName = byName(current());
        if (byName.remove(name) == null) {
            return false;
        }
        save(List.copyOf(byName.values()));
        return true;
    }

    /**
     * Takes the styles of a {@code styles.csv}: added to the styles (those of the same name replaced),
     * or instead of them all when {@code replace}. A file that is not a styles table changes nothing.
     *
     * @return the styles the file held
     * @throws RequestException 400 invalid_csv naming the line at fault
     */
    public synchronized List<PromptStyle> importCsv(String text, boolean replace) {
        List<PromptStyle> imported;
        try {
            imported = StylesCsv.parse(text);
        } catch (StylesCsv.FormatException e) {
            throw new RequestException(400, "invalid_csv", "the styles file is not a styles.csv: " + e.getMessage(), null);
        }
        for (PromptStyle style : imported) {
            checkName(style.name());
        }
        Map<String, PromptStyle> byName = replace ? new LinkedHashMap<>() : byName(current());
        imported.forEach(style -> byName.put(style.name(), style));
        save(List.copyOf(byName.values()));
        return imported;
    }

    /** The styles as a {@code styles.csv}. */
    public synchronized String exportCsv() {
        return StylesCsv.format(current());
    }

    /**
     * The styles named, in the order given.
     *
     * @throws RequestException 400 unknown_style for a name no style has, naming {@code field}
     */
    public synchronized List<PromptStyle> resolve(List<String> names, String field) {
        List<PromptStyle> resolved = new ArrayList<>();
        for (String name : names) {
            resolved.add(find(name).orElseThrow(() -> new RequestException(400, "unknown_style", "style not found: " + name
                    + (styles.isEmpty() ? " (there are no styles yet)" : " (styles: "
                    + String.join(", ", styles.stream().map(PromptStyle::name).toList()) + ")"), field)));
        }
        return resolved;
    }

    private static void checkName(String name) {
        if (name.isBlank() || name.length() > MAX_NAME_LENGTH || name.chars().anyMatch(Character::isISOControl)) {
            throw RequestException.invalidField("name", "must be 1 to " + MAX_NAME_LENGTH
                    + " characters, not all spaces, without line breaks or tabs, got \"" + abbreviate(name) + "\"");
        }
    }

    private static String abbreviate(String text) {
        String printable = text.replaceAll("\\p{Cntrl}", "?");
        return printable.length() <= 60 ? printable : printable.substring(0, 60) + "...";
    }

    private static Map<String, PromptStyle> byName(List<PromptStyle> styles) {
        Map<String, PromptStyle> byName = new LinkedHashMap<>();
        styles.forEach(style -> byName.put(style.name(), style));
        return byName;
    }

    /** The styles as the file holds them now (read again when it changed since it was last read). */
    private List<PromptStyle> current() {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            styles = List.of();
            readModified = null;
            readSize = -1;
            return styles;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (attributes.lastModifiedTime().equals(readModified) && attributes.size() == readSize) {
            return styles;
        }
        try {
            styles = StylesCsv.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (StylesCsv.FormatException e) {
            throw new RequestException(500, "styles_file_invalid", "the styles file " + file.getFileName()
                    + " of the data directory is not a valid styles.csv (" + e.getMessage() + "); correct or remove it", null);
        }
        readModified = attributes.lastModifiedTime();
        readSize = attributes.size();
        return styles;
    }

    /** Writes {@code newStyles} to the file, then keeps them; on failure nothing changes. */
    private void save(List<PromptStyle> newStyles) {
        try {
            AtomicFiles.write(file, StylesCsv.format(newStyles).getBytes(StandardCharsets.UTF_8));
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            readModified = attributes.lastModifiedTime();
            readSize = attributes.size();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the styles to " + file + ": " + e.getMessage(), e);
        }
        styles = newStyles;
    }
}
