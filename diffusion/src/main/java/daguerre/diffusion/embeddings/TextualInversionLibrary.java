package daguerre.diffusion.embeddings;

import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.text.ExtraTokens;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.NamedFiles;
import daguerre.weights.safetensors.UnsafeCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A folder of textual-inversion embeddings, as A1111's {@code embeddings} folder: every
 * {@code .safetensors} file in it (and below) is an embedding whose trigger word is its file name; a
 * model uses those whose vectors fit its text encoders (SD 1.x: 768, SD 2.x: 1024, SDXL: a
 * {@code clip_l}/{@code clip_g} pair) and skips the others, saying why. Files are read once and kept
 * while unchanged (they are a few kilobytes each).
 */
public final class TextualInversionLibrary {

    /** One file of the folder, and whether {@code model} can use it. */
    public record Listed(String name, Path path, int vectors, int dim, String skippedBecause) {
        public boolean fits() {
            return skippedBecause == null;
        }
    }

    /** The embeddings a model's prompts may use: one {@link ExtraTokens} per text encoder, and each used file's hash. */
    public record ForModel(ExtraTokens first, ExtraTokens second, Map<String, Path> files) {}

    private record Cached(long size, long modifiedMillis, TextualInversion embedding) {}

    private final Path folder;
    private final ModelHasher hasher;
    private final Map<Path, Cached> cache = new ConcurrentHashMap<>();

    public TextualInversionLibrary(Path folder, ModelHasher hasher) {
        this.folder = folder.toAbsolutePath().normalize();
        this.hasher = hasher;
    }

    public Path folder() {
        return folder;
    }

    /** Every file of the folder with whether {@code model} can use it; pickle files are listed as skipped. */
    public List<Listed> list(StableDiffusionModel model) {
        List<Listed> listed = new ArrayList<>();
        for (NamedFiles.Named f : NamedFiles.list(folder, List.of(".safetensors", ".pt", ".bin"))) {
            if (UnsafeCheckpointException.hasPickleExtension(f.path())) {
                listed.add(new Listed(f.name(), f.path(), 0, 0, "a pickle file: only .safetensors embeddings are read"));
                continue;
            }
            try {
                TextualInversion e = read(f.path(), f.name());
                String why = whyNot(e, model);
                listed.add(new Listed(f.name(), f.path(), e.count(), e.isSdxl() ? e.dim(TextualInversion.CLIP_G) : e.dim(TextualInversion.SINGLE), why));
            } catch (IOException | RuntimeException unreadable) {
                listed.add(new Listed(f.name(), f.path(), 0, 0, "unreadable: " + unreadable.getMessage()));
            }
        }
        return listed;
    }

    /** The embeddings of the folder that {@code model} can use, prepared for its tokenizers and text encoders. */
    public ForModel forModel(StableDiffusionModel model) {
        List<ExtraTokens.Entry> first = new ArrayList<>();
        List<ExtraTokens.Entry> second = new ArrayList<>();
        Map<String, Path> files = new LinkedHashMap<>();
        for (Listed listed : list(model)) {
            if (!listed.fits()) {
                continue;
            }
            TextualInversion e;
            try {
                e = read(listed.path(), listed.name());
            } catch (IOException unreadable) {
                continue;   // changed since it was listed: skipped as A1111 skips it
            }
            files.put(e.name(), e.path());
            if (model.isSdxl()) {
                first.add(entry(e, TextualInversion.CLIP_L, model.tokenizer()));
                second.add(entry(e, TextualInversion.CLIP_G, model.secondTextEncoder().orElseThrow().tokenizer()));
            } else {
                first.add(entry(e, TextualInversion.SINGLE, model.tokenizer()));
            }
        }
        ClipTextModel te = model.textEncoder();
        ExtraTokens one = new ExtraTokens(first, te.config().vocabSize(), te.config().hiddenSize());
        ExtraTokens two = ExtraTokens.NONE;
        if (model.isSdxl()) {
            ClipTextModel te2 = model.secondTextEncoder().orElseThrow().encoder();
            two = new ExtraTokens(second, te2.config().vocabSize(), te2.config().hiddenSize());
        }
        return new ForModel(one, two, files);
    }

    /** A1111's short hash of an embedding ({@code TI hashes}): the first 12 hex digits of the file's SHA-256. */
    public String shortHash(Path file) throws IOException {
        return hasher.sha256(file).substring(0, ModelHasher.SHORT_NETWORK_HASH_LENGTH);
    }

    /** Why {@code model} cannot use {@code e}, or null if it can. */
    private static String whyNot(TextualInversion e, StableDiffusionModel model) {
        if (model.isSdxl()) {
            int l = model.textEncoder().config().hiddenSize();
            int g = model.secondTextEncoder().orElseThrow().encoder().config().hiddenSize();
            if (!e.isSdxl()) {
                return "an SD 1.x/2.x embedding (" + e.dim(TextualInversion.SINGLE) + " values a vector); SDXL needs clip_l and clip_g";
            }
            if (e.dim(TextualInversion.CLIP_L) != l || e.dim(TextualInversion.CLIP_G) != g) {
                return "vectors of " + e.dim(TextualInversion.CLIP_L) + " and " + e.dim(TextualInversion.CLIP_G)
                        + " values; this model's text encoders take " + l + " and " + g;
            }
            return null;
        }
        int d = model.textEncoder().config().hiddenSize();
        if (e.isSdxl()) {
            return "an SDXL embedding (clip_l, clip_g); this model has one text encoder";
        }
        if (e.dim(TextualInversion.SINGLE) != d) {
            return "vectors of " + e.dim(TextualInversion.SINGLE) + " values; this model's text encoder takes " + d;
        }
        return null;
    }

    private static ExtraTokens.Entry entry(TextualInversion e, String part, ClipTokenizer tokenizer) {
        return new ExtraTokens.Entry(e.name(), tokenizer.tokenIds(e.name()), e.vectors().get(part), e.count());
    }

    private TextualInversion read(Path file, String name) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        Cached cached = cache.get(file);
        if (cached != null && cached.size == attributes.size() && cached.modifiedMillis == attributes.lastModifiedTime().toMillis()
                && cached.embedding.name().equals(name)) {
            return cached.embedding;
        }
        TextualInversion read = TextualInversion.read(file, name);
        cache.put(file, new Cached(attributes.size(), attributes.lastModifiedTime().toMillis(), read));
        return read;
    }
}
