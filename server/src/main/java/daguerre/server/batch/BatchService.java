package daguerre.server.batch;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobHandle;
import daguerre.server.jobs.JobService;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Turns a prompt file into a batch: one queued job per good line, the bad lines kept with their errors. The
 * same on one machine (its {@code JobQueue} and SQLite) and on a cluster's api node (the shared queue and
 * PostgreSQL, where the lines are ordinary jobs any worker runs).
 */
public final class BatchService {

    private final ImageEngine engine;
    private final GenerationRequests requests;
    private final JobService queue;
    private final BatchStore store;

    public BatchService(ImageEngine engine, GenerationRequests requests, JobService queue, BatchStore store) {
        this.engine = engine;
        this.requests = requests;
        this.queue = queue;
        this.store = store;
    }

    /**
     * Parses and validates every line of a prompt file, queues the good ones (all or none: 429 when they do not fit
     * in the queue) and stores the batch.
     *
     * @param name what to call the batch (the file's name), or null
     * @throws RequestException 400 when the file has no lines, 413 when it has more than {@code --max-batch-lines};
     *                          the queue's 429/503/507
     */
    public BatchStore.StoredBatch submit(String text, String name) {
        if (text == null || text.isBlank()) {
            throw RequestException.invalid(null, "the prompt file is empty (one prompt per line)");
        }
        PromptFileParser.checkLineCount(text, requests.limits().maxBatchLines());
        return submit(new PromptFileParser(this::samplerFromA1111).parse(text), name);
    }

    /**
     * Queues a JSON array of native requests as a batch, one line per element, as {@link #submit(String, String)}.
     *
     * @throws RequestException 400 for an empty array, 413 for more than {@code --max-batch-lines} elements
     */
    public BatchStore.StoredBatch submitRequests(JsonNode array, String name) {
        if (array.isEmpty()) {
            throw RequestException.invalid(null, "the list of requests is empty");
        }
        int max = requests.limits().maxBatchLines();
        if (array.size() > max) {
            throw new RequestException(413, "too_many_lines", "the list has " + array.size() + " requests, more than " + max
                    + " (--max-batch-lines); split it into several batches", null);
        }
        return submit(PromptFileParser.parseRequests(array), name);
    }

    private BatchStore.StoredBatch submit(List<PromptFileParser.Line> parsed, String name) {
        List<BatchStore.StoredLine> lines = new ArrayList<>();
        List<GenerationParams> valid = new ArrayList<>();
        List<PromptFileParser.Line> validLines = new ArrayList<>();
        for (PromptFileParser.Line line : parsed) {
            RequestException error = line.error();
            if (error == null) {
                try {
                    valid.add(requests.parse(line.request(), true));
                    validLines.add(line);
                    continue;
                } catch (RequestException e) {
                    error = e;
                }
            }
            lines.add(new BatchStore.StoredLine(line.line(), line.source(), promptOf(line), null, error.code(), error.getMessage(),
                    error.field()));
        }
        List<? extends JobHandle> jobs = queue.submitAll(valid, true);
        for (int i = 0; i < jobs.size(); i++) {
            PromptFileParser.Line line = validLines.get(i);
            lines.add(new BatchStore.StoredLine(line.line(), line.source(), valid.get(i).prompt(), jobs.get(i).id(), null, null, null));
        }
        lines.sort(Comparator.comparingInt(BatchStore.StoredLine::line));
        BatchStore.StoredBatch batch = new BatchStore.StoredBatch(Ids.newId(), name, System.currentTimeMillis(), null, lines);
        try {
            store.insert(batch);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot store batch " + batch.id() + ": " + e.getMessage(), e);
        }
        return batch;
    }

    /** The prompt a bad line asks for, when it was read that far. */
    private static String promptOf(PromptFileParser.Line line) {
        JsonNode prompt = line.request() == null ? null : line.request().get("prompt");
        return prompt != null && prompt.isTextual() ? prompt.asText() : null;
    }

    /**
     * Cancels a batch: its queued lines at once, its running ones within the layer they are in; lines already
     * finished stay as they are. Cancelling again changes nothing.
     *
     * @return how many lines were running (they end as cancelled shortly)
     * @throws RequestException 404 for an unknown batch
     */
    public int cancel(String id) {
        if (!Ids.isValid(id)) {
            throw RequestException.notFound("batch " + id);
        }
        try {
            if (!store.markCancelled(id, System.currentTimeMillis())) {
                throw RequestException.notFound("batch " + id);
            }
            return queue.cancelAll(store.jobIds(id));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot cancel batch " + id + ": " + e.getMessage(), e);
        }
    }

    /** The API name of a sampler given by its A1111 name (or already by its API name); unknown names pass through to fail validation. */
    private String samplerFromA1111(String name) {
        return engine.samplers().stream().filter(s -> s.a1111Name().equals(name) || s.name().equals(name))
                .map(SamplerDescriptor::name).findFirst().orElse(name);
    }
}
