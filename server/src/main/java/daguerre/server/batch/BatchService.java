package daguerre.server.batch;

import daguerre.server.jobs.ActiveJob;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.Ids;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.JobQueue;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Turns a prompt file into a batch: one queued job per good line, the bad lines kept with their errors. */
public final class BatchService {

    private final ImageEngine engine;
    private final GenerationRequests requests;
    private final JobQueue queue;
    private final BatchStore store;

    public BatchService(ImageEngine engine, GenerationRequests requests, JobQueue queue, BatchStore store) {
        this.engine = engine;
        this.requests = requests;
        this.queue = queue;
        this.store = store;
    }

    /**
     * Parses and validates every line, queues the good ones (all or none: 429 when they do not fit
     * in the queue) and stores the batch.
     *
     * @throws RequestException 400 when the file has no lines, 413 when it has more than {@code --max-batch-lines};
     *                          the queue's 429/503/507
     */
    public BatchStore.StoredBatch submit(String text) {
        if (text == null || text.isBlank()) {
            throw RequestException.invalid(null, "the prompt file is empty (one prompt per line)");
        }
        PromptFileParser.checkLineCount(text, requests.limits().maxBatchLines());
        List<BatchStore.StoredLine> lines = new ArrayList<>();
        List<GenerationParams> valid = new ArrayList<>();
        List<Integer> validLines = new ArrayList<>();
        for (PromptFileParser.Line line : new PromptFileParser(this::samplerFromA1111).parse(text)) {
            RequestException error = line.error();
            if (error == null) {
                try {
                    valid.add(requests.parse(line.request(), true));
                    validLines.add(line.line());
                    continue;
                } catch (RequestException e) {
                    error = e;
                }
            }
            lines.add(new BatchStore.StoredLine(line.line(), null, error.code(), error.getMessage(), error.field()));
        }
        List<ActiveJob> jobs = queue.submitAll(valid);
        for (int i = 0; i < jobs.size(); i++) {
            lines.add(new BatchStore.StoredLine(validLines.get(i), jobs.get(i).id(), null, null, null));
        }
        lines.sort(Comparator.comparingInt(BatchStore.StoredLine::line));
        BatchStore.StoredBatch batch = new BatchStore.StoredBatch(Ids.newId(), System.currentTimeMillis(), lines);
        try {
            store.insert(batch);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot store batch " + batch.id() + ": " + e.getMessage(), e);
        }
        return batch;
    }

    /** The API name of a sampler given by its A1111 name (or already by its API name); unknown names pass through to fail validation. */
    private String samplerFromA1111(String name) {
        return engine.samplers().stream().filter(s -> s.a1111Name().equals(name) || s.name().equals(name))
                .map(SamplerDescriptor::name).findFirst().orElse(name);
    }
}
