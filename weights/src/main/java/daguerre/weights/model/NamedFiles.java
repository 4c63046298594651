package daguerre.weights.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The files of a folder (and the folders below it) that A1111 addresses by name: the file name
 * without its extension, as {@code <lora:name:w>} and textual-inversion triggers do. Where two files
 * share a name, the first path in sorted order wins.
 */
public final class NamedFiles {

    /** A file by its name. */
    public record Named(String name, Path path, long bytes) {}

    private NamedFiles() {}

    /** The files ending in one of {@code extensions} (".safetensors"), by name; a missing folder has none. */
    public static List<Named> list(Path folder, List<String> extensions) {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        Map<String, Named> byName = new LinkedHashMap<>();
        try (Stream<Path> files = Files.walk(folder)) {
            files.filter(Files::isRegularFile).sorted(Comparator.comparing(Path::toString)).forEach(p -> {
                String file = p.getFileName().toString();
                for (String extension : extensions) {
                    if (file.toLowerCase(Locale.ROOT).endsWith(extension)) {
                        String name = file.substring(0, file.length() - extension.length());
                        byName.putIfAbsent(name, new Named(name, p, size(p)));
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder + ": " + e.getMessage(), e);
        }
        return new ArrayList<>(byName.values());
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }
}
