package daguerre.weights.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * The files of a CLIP byte-level BPE tokenizer: {@code vocab.json}, {@code merges.txt} and the
 * padding token. They come from a diffusers {@code tokenizer/} folder, or, for single-file
 * checkpoints (which carry none), from the bundled OpenAI CLIP vocabulary (MIT licence, see
 * {@code daguerre/weights/clip/README.md} on the classpath).
 */
public final class TokenizerFiles {

    /** SD 1.x pads with the end-of-text token. */
    public static final String SD1_PAD_TOKEN = "<|endoftext|>";
    /** SD 2.x tokenizers pad with {@code !} (id 0). */
    public static final String SD2_PAD_TOKEN = "!";

    private static final String BUNDLED = "/daguerre/weights/clip/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path folder;
    private final String padToken;

    private TokenizerFiles(Path folder, String padToken) {
        this.folder = folder;
        this.padToken = padToken;
    }

    /** The bundled OpenAI CLIP vocabulary with the given padding token. */
    public static TokenizerFiles bundledClip(String padToken) {
        return new TokenizerFiles(null, padToken);
    }

    /**
     * A diffusers {@code tokenizer/} folder; the padding token comes from its
     * {@code special_tokens_map.json} or {@code tokenizer_config.json} (default {@code <|endoftext|>}).
     */
    public static TokenizerFiles folder(Path folder) throws IOException {
        for (String required : new String[] {"vocab.json", "merges.txt"}) {
            if (!Files.isRegularFile(folder.resolve(required))) {
                throw new FileNotFoundException(folder + ": tokenizer folder has no " + required);
            }
        }
        String pad = SD1_PAD_TOKEN;
        for (String file : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path path = folder.resolve(file);
            if (Files.isRegularFile(path)) {
                JsonNode node = readJson(path).get("pad_token");
                if (node != null && node.isTextual()) {
                    pad = node.textValue();
                } else if (node != null && node.has("content")) {
                    pad = node.get("content").asText();
                }
            }
        }
        return new TokenizerFiles(folder, pad);
    }

    /** The folder the files are in; empty for the bundled vocabulary. */
    public Optional<Path> folder() {
        return Optional.ofNullable(folder);
    }

    /** The padding token (its text, e.g. {@code <|endoftext|>} or {@code !}). */
    public String padToken() {
        return padToken;
    }

    /** Opens {@code vocab.json} (token to id). */
    public InputStream openVocab() throws IOException {
        return open("vocab.json");
    }

    /** Opens {@code merges.txt} (BPE merges in rank order, after a {@code #version} line). */
    public InputStream openMerges() throws IOException {
        return open("merges.txt");
    }

    /**
     * Copies {@code vocab.json} and {@code merges.txt} into {@code target} (created if needed), for
     * code that reads a tokenizer from a folder; returns {@code target}.
     */
    public Path copyTo(Path target) throws IOException {
        Files.createDirectories(target);
        for (String name : new String[] {"vocab.json", "merges.txt"}) {
            try (InputStream in = open(name)) {
                Files.copy(in, target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target;
    }

    /** Where the files come from, for messages. */
    public String description() {
        return folder != null ? folder.toString() : "bundled OpenAI CLIP vocabulary (classpath " + BUNDLED + ")";
    }

    private InputStream open(String name) throws IOException {
        if (folder != null) {
            return Files.newInputStream(folder.resolve(name));
        }
        InputStream in = TokenizerFiles.class.getResourceAsStream(BUNDLED + name);
        if (in == null) {
            throw new FileNotFoundException("classpath resource " + BUNDLED + name + " is missing from the weights jar");
        }
        return in;
    }

    private static JsonNode readJson(Path path) throws IOException {
        try {
            return JSON.readTree(path.toFile());
        } catch (IOException e) {
            throw new IOException(path + ": not valid JSON: " + e.getMessage(), e);
        }
    }
}
