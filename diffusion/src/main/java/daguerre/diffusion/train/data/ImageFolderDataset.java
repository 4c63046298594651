package daguerre.diffusion.train.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;

/**
 * A folder of images with their captions in {@code metadata.jsonl}, the "imagefolder"
 * convention of Hugging Face datasets: one JSON object per line, with {@code file_name} (a path
 * relative to the folder) and {@code text} (the caption); other fields are ignored and blank
 * lines are skipped.
 *
 * <pre>
 * my-images/
 *   metadata.jsonl      {"file_name": "cat.png", "text": "a cat on a sofa"}
 *   cat.png             {"file_name": "photos/dog.jpg", "text": "a dog"}
 *   photos/dog.jpg
 * </pre>
 *
 * <p>Opening checks every line and every image header, so a bad dataset fails at once with the
 * file and line at fault. Samples are the images (any {@code javax.imageio} format: PNG, JPEG,
 * BMP, GIF) composited over white when they have alpha, resized so the short side is the training
 * size and centre-cropped. They do not change between epochs.
 */
public final class ImageFolderDataset implements ImageCaptionDataset {

    /** The metadata file name inside the folder. */
    public static final String METADATA_FILE = "metadata.jsonl";

    private static final int WHITE = 0xffffff;

    /** One line of {@code metadata.jsonl}: the image file, resolved, and its caption. */
    public record Entry(String fileName, Path file, String text) {}

    private final Path folder;
    private final int imageSize;
    private final List<Entry> entries;

    private ImageFolderDataset(Path folder, int imageSize, List<Entry> entries) {
        this.folder = folder;
        this.imageSize = imageSize;
        this.entries = List.copyOf(entries);
    }

    /**
     * Reads and validates {@code folder/metadata.jsonl} and the header of every image it names.
     *
     * @param imageSize the side of the square training images, in pixels
     * @throws DatasetException naming the file (and line) of the first problem found: no
     *     metadata file, a line that is not a JSON object, a missing or non-string
     *     {@code file_name} or {@code text}, a path leaving the folder, a missing file, a file
     *     that is not an image, or an empty dataset
     */
    public static ImageFolderDataset open(Path folder, int imageSize) {
        if (imageSize <= 0) {
            throw new IllegalArgumentException("imageSize must be positive, got " + imageSize);
        }
        Path root = folder.toAbsolutePath().normalize();
        Path metadata = root.resolve(METADATA_FILE);
        if (!Files.isRegularFile(metadata)) {
            throw new DatasetException("no " + METADATA_FILE + " in dataset folder " + root);
        }
        ObjectMapper json = new ObjectMapper();
        List<Entry> entries = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(metadata, StandardCharsets.UTF_8)) {
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (lineNumber == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);
                }
                if (line.isBlank()) {
                    continue;
                }
                entries.add(parseLine(json, root, metadata, lineNumber, line));
            }
        } catch (IOException e) {
            throw new DatasetException("cannot read " + metadata + ": " + e.getMessage(), e);
        }
        if (entries.isEmpty()) {
            throw new DatasetException(metadata + " lists no images");
        }
        return new ImageFolderDataset(root, imageSize, entries);
    }

    private static Entry parseLine(ObjectMapper json, Path root, Path metadata, int lineNumber, String line) {
        String where = metadata + " line " + lineNumber;
        JsonNode node;
        try {
            node = json.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DatasetException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new DatasetException(where + ": expected a JSON object with file_name and text");
        }
        String fileName = requireString(node, "file_name", where);
        String text = requireString(node, "text", where);
        Path file = root.resolve(fileName).normalize();
        if (fileName.isEmpty() || !file.startsWith(root) || file.equals(root)) {
            throw new DatasetException(where + ": file_name '" + fileName + "' is not a file inside " + root);
        }
        try {
            ImageOps.probeSize(file);
        } catch (DatasetException e) {
            throw new DatasetException(where + ": " + e.getMessage(), e);
        }
        return new Entry(fileName, file, text);
    }

    private static String requireString(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new DatasetException(where + ": missing field '" + field + "'");
        }
        if (!value.isTextual()) {
            throw new DatasetException(where + ": field '" + field + "' must be a string, got " + value.getNodeType());
        }
        return value.asText();
    }

    /** The dataset folder (absolute). */
    public Path folder() {
        return folder;
    }

    /** The lines of {@code metadata.jsonl}, in file order. */
    public List<Entry> entries() {
        return entries;
    }

    @Override
    public int imageSize() {
        return imageSize;
    }

    @Override
    public int size() {
        return entries.size();
    }

    /** The image of line {@code index} (the epoch does not matter: samples never change). */
    @Override
    public Sample sample(long epoch, int index) {
        Entry entry = entries.get(Objects.checkIndex(index, entries.size()));
        BufferedImage image = ImageOps.compositeOver(ImageOps.read(entry.file()), WHITE);
        return new Sample(entry.fileName(), entry.text(), ImageOps.resizeAndCenterCrop(image, imageSize));
    }

    @Override
    public List<String> captions() {
        LinkedHashSet<String> captions = new LinkedHashSet<>();
        for (Entry entry : entries) {
            captions.add(entry.text());
        }
        return List.copyOf(captions);
    }
}
