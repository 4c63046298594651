package daguerre.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.weights.model.DefaultModel;
import daguerre.weights.model.DiscoveredModel;
import daguerre.weights.model.ModelDiscovery;
import daguerre.weights.model.ModelHasher;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code models}: the models a {@code --model} path holds (one model, or a folder of model folders
 * and {@code .safetensors} files) with id, family, native size and A1111 hash. Each model is opened
 * as {@code generate} opens it ({@link ModelDiscovery}: configs and safetensors headers), but no
 * weights are loaded; the hash reads the hashed file once.
 */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "List the models a --model path holds (a model, or a folder of models): id, family, native size, hash.")
public final class ModelsCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", paramLabel = "PATH",
            description = "A diffusers model folder, a .safetensors checkpoint, or a folder of them (repeatable); default: Daguerre's own model.")
    List<Path> models = new ArrayList<>();

    @Option(names = "--json", description = "One JSON object per model: {id, family, width, height, hash, format, prediction_type, path}.")
    boolean json;

    @Spec
    CommandSpec spec;

    /** What {@code models} says about one model. */
    record Listed(String id, String family, int width, int height, String hash, String format, String predictionType, Path path) {}

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Path> roots = models.isEmpty()
                ? List.of(DefaultModel.locate().orElseThrow(() -> new IllegalArgumentException(
                        "this build ships no default model: pass --model PATH")))
                : models;
        ModelHasher hasher = new ModelHasher();
        int status = 0;
        for (Path root : roots) {
            List<Path> candidates;
            try {
                candidates = candidates(root);
            } catch (IOException e) {
                err.println("error: " + root + ": " + e.getMessage());
                err.flush();
                status = 1;
                continue;
            }
            for (Path path : candidates) {
                Listed listed;
                try {
                    listed = describe(path, hasher);
                } catch (IOException | RuntimeException e) {
                    out.flush();
                    err.println("error: " + path + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
                    err.flush();
                    status = 1;
                    continue;
                }
                out.println(json ? json(listed) : String.format(Locale.ROOT, "%s  %s  %dx%d  %s  %s",
                        listed.id(), listed.family(), listed.width(), listed.height(), listed.hash(), listed.path()));
                out.flush();
            }
        }
        return status;
    }

    /**
     * The model paths under {@code root}: itself when it is a model (a folder with
     * {@code model_index.json}, or a file), else its model folders and {@code .safetensors} files,
     * by name; other entries are skipped.
     */
    static List<Path> candidates(Path root) throws IOException {
        if (!Files.exists(root)) {
            throw new IOException("no such model file or folder");
        }
        if (!Files.isDirectory(root) || Files.isRegularFile(root.resolve("model_index.json"))) {
            return List.of(root);
        }
        try (Stream<Path> entries = Files.list(root)) {
            List<Path> found = entries.filter(p -> Files.isDirectory(p)
                            ? Files.isRegularFile(p.resolve("model_index.json"))
                            : p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors"))
                    .sorted().toList();
            if (found.isEmpty()) {
                throw new IOException("no models (neither a diffusers folder with model_index.json, nor a folder of them"
                        + " or of .safetensors files)");
            }
            return found;
        }
    }

    /** Opens the model's configs and weight-file headers, without loading weights, and hashes it. */
    static Listed describe(Path path, ModelHasher hasher) throws IOException {
        try (DiscoveredModel model = ModelDiscovery.open(path)) {
            int size = UNetConfig.fromJson(model.unet().config()).sampleSize()
                    * VaeConfig.fromJson(model.vae().config()).downsamplingFactor();
            String family = model.family() == DiscoveredModel.Family.SDXL ? ModelDescriptor.SDXL : ModelDescriptor.SD;
            String format = model.format() == DiscoveredModel.Format.DIFFUSERS_FOLDER ? "diffusers" : "single_file";
            return new Listed(model.id(), family, size, size, hasher.shortHash(model.hashedFile()), format,
                    model.predictionType(), model.path());
        }
    }

    private static String json(Listed listed) throws IOException {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", listed.id());
        node.put("family", listed.family());
        node.put("width", listed.width());
        node.put("height", listed.height());
        node.put("hash", listed.hash());
        node.put("format", listed.format());
        node.put("prediction_type", listed.predictionType());
        node.put("path", listed.path().toString());
        return JSON.writeValueAsString(node);
    }
}
