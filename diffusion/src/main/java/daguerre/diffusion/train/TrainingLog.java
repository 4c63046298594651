package daguerre.diffusion.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The run's logs: {@code losses.csv} (one row per step: time, stage, step, loss, learning rate,
 * gradient norm, samples/s) and {@code events.jsonl} (one JSON object per event: start, resume,
 * CPU peak measurement, checkpoint, stage end, export).
 */
public final class TrainingLog {

    private static final String HEADER = "time_utc,stage,step,loss,learning_rate,gradient_norm,samples_per_second";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path losses;
    private final Path events;

    /** Logs in {@code runDir} (created if needed). */
    public TrainingLog(Path runDir) throws IOException {
        Files.createDirectories(runDir);
        this.losses = runDir.resolve("losses.csv");
        this.events = runDir.resolve("events.jsonl");
        if (!Files.exists(losses)) {
            Files.writeString(losses, HEADER + "\n", StandardCharsets.UTF_8);
        }
    }

    /**
     * Drops the rows of {@code stage} from step {@code fromStep} on (1-based step numbers above
     * it): after a resume those steps are run again and logged anew.
     */
    public void truncate(String stage, long fromStep) throws IOException {
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(losses, StandardCharsets.UTF_8)) {
            String[] fields = line.split(",");
            if (fields.length > 2 && fields[1].equals(stage) && !fields[2].equals("step") && Long.parseLong(fields[2]) > fromStep) {
                continue;
            }
            kept.add(line);
        }
        Files.write(losses, kept, StandardCharsets.UTF_8);
    }

    /** Appends one step row. */
    public void step(TrainingProgress p) throws IOException {
        String row = String.format(Locale.ROOT, "%s,%s,%d,%.6f,%.6g,%.4f,%.2f%n", Instant.now(), p.stage(), p.step(), p.loss(),
                p.learningRate(), p.gradientNorm(), p.samplesPerSecond());
        Files.writeString(losses, row, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** Appends one event: {@code fields} are alternating names and values. */
    public void event(String type, Object... fields) throws IOException {
        ObjectNode node = JSON.createObjectNode().put("time_utc", Instant.now().toString()).put("event", type);
        for (int i = 0; i + 1 < fields.length; i += 2) {
            node.putPOJO(fields[i].toString(), fields[i + 1]);
        }
        Files.writeString(events, JSON.writeValueAsString(node) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
