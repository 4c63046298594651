package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training checkpoint: a folder {@code <stage>-<step>} under the run's {@code checkpoints/} with
 * {@code state.safetensors} (F32 tensors {@code model/<name>}, {@code ema/<name>},
 * {@code adam_m/<name>}, {@code adam_v/<name>}) and {@code state.json} (stage, step, optimiser
 * update count, seed, training wall-clock and CPU seconds). Every random draw of the trainer is a pure function of
 * (seed, step), so the step is the whole generator state.
 *
 * <p>Written atomically: into a hidden temporary folder, then renamed; older checkpoints of the
 * stage beyond the newest {@link #KEPT} are deleted afterwards, so an interruption at any point
 * leaves at least one complete checkpoint.
 */
public final class Checkpoint {

    /** Checkpoints kept per stage. */
    public static final int KEPT = 2;
    private static final Pattern NAME = Pattern.compile("([a-z0-9_]+)-(\\d{8})");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a checkpoint holds, as plain Java values once read back.
     *
     * @param step the next step to run
     * @param trainingSeconds wall-clock seconds spent training the stage so far
     * @param cpuSeconds process CPU seconds spent training the stage so far (0 when not recorded)
     */
    public record State(String stage, long step, long optimiserUpdates, long seed, double trainingSeconds, double cpuSeconds,
                        Map<String, float[]> model, Map<String, float[]> ema, Map<String, float[]> firstMoments,
                        Map<String, float[]> secondMoments) {}

    private Checkpoint() {}

    /** Writes a checkpoint of {@code stage} at {@code step}; returns its folder. */
    public static Path write(Path checkpoints, String stage, long step, long seed, double trainingSeconds, double cpuSeconds,
                             TrainableParameters parameters, ExponentialMovingAverage ema, AdamW optimiser) throws IOException {
        Files.createDirectories(checkpoints);
        String name = String.format("%s-%08d", stage, step);
        Path target = checkpoints.resolve(name);
        Path temp = checkpoints.resolve(".tmp-" + name);
        deleteRecursively(temp);
        Files.createDirectories(temp);
        List<Map.Entry<String, NDArray>> arrays = new ArrayList<>();
        parameters.all().forEach((key, p) -> arrays.add(Map.entry("model/" + key, p.value())));
        ema.averages().forEach((key, a) -> arrays.add(Map.entry("ema/" + key, a)));
        optimiser.firstMoments().forEach((key, a) -> arrays.add(Map.entry("adam_m/" + key, a)));
        optimiser.secondMoments().forEach((key, a) -> arrays.add(Map.entry("adam_v/" + key, a)));
        SafetensorsWriter.write(temp.resolve("state.safetensors"), new AbstractList<>() {
            @Override
            public Tensor get(int index) {
                NDArray array = arrays.get(index).getValue();
                return Tensor.of(arrays.get(index).getKey(), DType.F32, array.getShape().getShape(), array.toFloatArray());
            }

            @Override
            public int size() {
                return arrays.size();
            }
        });
        ObjectNode json = JSON.createObjectNode()
                .put("stage", stage)
                .put("step", step)
                .put("optimiser_updates", optimiser.updates())
                .put("seed", seed)
                .put("training_seconds", trainingSeconds)
                .put("cpu_seconds", cpuSeconds)
                .put("random_state", "every draw is a pure function of (seed, step)");
        JSON.writerWithDefaultPrettyPrinter().writeValue(temp.resolve("state.json").toFile(), json);
        deleteRecursively(target);
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        List<Path> older = list(checkpoints, stage);
        for (int i = 0; i < older.size() - KEPT; i++) {
            deleteRecursively(older.get(i));
        }
        return target;
    }

    /** The newest complete checkpoint of {@code stage} under {@code checkpoints}, if any. */
    public static Optional<Path> latest(Path checkpoints, String stage) throws IOException {
        List<Path> all = list(checkpoints, stage);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** Reads a checkpoint folder. */
    public static State read(Path folder) throws IOException {
        JsonNode json = JSON.readTree(folder.resolve("state.json").toFile());
        Map<String, float[]> model = new LinkedHashMap<>();
        Map<String, float[]> ema = new LinkedHashMap<>();
        Map<String, float[]> first = new LinkedHashMap<>();
        Map<String, float[]> second = new LinkedHashMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(folder.resolve("state.safetensors"))) {
            for (String name : file.names()) {
                int slash = name.indexOf('/');
                String group = name.substring(0, slash);
                String key = name.substring(slash + 1);
                Map<String, float[]> target = switch (group) {
                    case "model" -> model;
                    case "ema" -> ema;
                    case "adam_m" -> first;
                    case "adam_v" -> second;
                    default -> throw new IOException(folder + ": unexpected tensor group in " + name);
                };
                target.put(key, file.floats(name));
            }
        }
        return new State(json.get("stage").asText(), json.get("step").asLong(), json.get("optimiser_updates").asLong(),
                json.get("seed").asLong(), json.get("training_seconds").asDouble(), json.path("cpu_seconds").asDouble(0), model, ema, first, second);
    }

    /** The complete checkpoints of {@code stage}, oldest first. */
    static List<Path> list(Path checkpoints, String stage) throws IOException {
        if (!Files.isDirectory(checkpoints)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(checkpoints)) {
            return entries.filter(p -> {
                Matcher m = NAME.matcher(p.getFileName().toString());
                return m.matches() && m.group(1).equals(stage) && Files.isRegularFile(p.resolve("state.json"));
            }).sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
