package daguerre.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.server.jobs.EmbeddingDescriptor;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.LoraDescriptor;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.RequestException;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import daguerre.weights.model.ModelCard;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models of the cluster as an api node sees them, for validating requests: every model some
 * worker ever registered in the {@code models} table (so that a job for a model whose workers are
 * all down is accepted and waits), refreshed by {@link #refresh()}. It runs nothing: an api node
 * loads no model. A worker registers with each model what the one process's engine answers from it:
 * its model card (the prompt warnings and the prompt grammar of the models list) and its
 * textual-inversion embeddings with whether the model can use each (the embeddings lists), and
 * registers again when these change ({@link #descriptors}, {@link #register(PgDatabase, Map)}).
 */
public final class ClusterModels implements ImageEngine {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(ClusterModels.class);

    private final PgDatabase database;
    private final java.util.function.Predicate<String> served;
    private final LoraLibrary loras;
    private volatile List<ModelDescriptor> models = List.of();
    private volatile List<SamplerDescriptor> samplers = List.of();
    private volatile Map<String, List<EmbeddingDescriptor>> embeddings = Map.of();

    /**
     * @param served whether a live worker serves a model id now (for the default model)
     * @param loras the LoRA folder, on storage every node mounts (as {@code --images}): what requests are checked against
     */
    public ClusterModels(PgDatabase database, java.util.function.Predicate<String> served, LoraLibrary loras) {
        this.database = database;
        this.served = served;
        this.loras = loras;
    }

    /** The LoRA folder's files, as the workers, which read the same folder, will find them. */
    @Override
    public List<LoraDescriptor> loras() {
        return loras.list().stream().map(e -> new LoraDescriptor(e.name(), e.path().toString(), e.bytes(), Map.of())).toList();
    }

    @Override
    public void requireLora(String name) {
        try {
            loras.resolve(name);
        } catch (InvalidRequestException e) {
            throw new RequestException(400, "lora_not_found", e.getMessage(), "loras");
        }
    }

    /** Registers the models and samplers a worker serves. */
    public static void register(PgDatabase database, ImageEngine engine) throws SQLException {
        register(database, descriptors(engine));
    }

    /**
     * What a worker registers for each of its models, by id: the descriptor, its card, its samplers and its
     * embeddings (the embeddings folder is read again each time: a worker compares and registers what changed).
     */
    public static Map<String, String> descriptors(ImageEngine engine) {
        Map<String, String> descriptors = new LinkedHashMap<>();
        for (ModelDescriptor m : engine.models()) {
            ObjectNode json = JSON.createObjectNode().put("id", m.id()).put("name", m.name()).put("hash", m.hash())
                    .put("default_width", m.defaultWidth()).put("default_height", m.defaultHeight())
                    .put("description", m.description()).put("text_encoder_layers", m.textEncoderLayers())
                    .put("family", m.family());
            json.set("card", m.card() == null ? null : m.card().toJson());
            ArrayNode list = json.putArray("samplers");
            engine.samplers().forEach(x -> list.addObject().put("name", x.name()).put("a1111_name", x.a1111Name()));
            ArrayNode embeddings = json.putArray("embeddings");
            for (EmbeddingDescriptor e : engine.embeddings(m.id())) {
                embeddings.addObject().put("name", e.name()).put("path", e.path()).put("vectors", e.vectors()).put("dim", e.dim())
                        .put("skipped_because", e.skippedBecause());
            }
            descriptors.put(m.id(), json.toString());
        }
        return descriptors;
    }

    /** Registers model descriptors made by {@link #descriptors}, replacing what was registered under their ids. */
    public static void register(PgDatabase database, Map<String, String> descriptors) throws SQLException {
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO models (id, descriptor, updated_at) VALUES (?, ?, ?)"
                    + " ON CONFLICT (id) DO UPDATE SET descriptor = EXCLUDED.descriptor, updated_at = EXCLUDED.updated_at")) {
                for (Map.Entry<String, String> m : descriptors.entrySet()) {
                    s.setString(1, m.getKey());
                    s.setString(2, m.getValue());
                    s.setLong(3, System.currentTimeMillis());
                    s.addBatch();
                }
                return s.executeBatch();
            }
        });
    }

    /** Reads the registered models again. */
    public void refresh() throws SQLException {
        List<ModelDescriptor> found = new ArrayList<>();
        Map<String, SamplerDescriptor> foundSamplers = new LinkedHashMap<>();
        Map<String, List<EmbeddingDescriptor>> foundEmbeddings = new LinkedHashMap<>();
        database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT descriptor FROM models ORDER BY id"); ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    JsonNode m = ClusterMembership.parse(rows.getString(1));
                    String id = m.path("id").asText();
                    found.add(new ModelDescriptor(id, m.path("name").asText(), m.path("hash").asText(),
                            m.path("default_width").asInt(), m.path("default_height").asInt(), m.path("description").asText(),
                            card(id, m.get("card")), m.path("text_encoder_layers").asInt(), m.path("family").asText()));
                    for (JsonNode x : m.path("samplers")) {
                        foundSamplers.putIfAbsent(x.path("name").asText(),
                                new SamplerDescriptor(x.path("name").asText(), x.path("a1111_name").asText()));
                    }
                    List<EmbeddingDescriptor> embeddings = new ArrayList<>();
                    for (JsonNode e : m.path("embeddings")) {
                        embeddings.add(new EmbeddingDescriptor(e.path("name").asText(), e.path("path").asText(), e.path("vectors").asInt(),
                                e.path("dim").asInt(), e.hasNonNull("skipped_because") ? e.get("skipped_because").asText() : null));
                    }
                    foundEmbeddings.put(id, List.copyOf(embeddings));
                }
            }
            return null;
        });
        models = List.copyOf(found);
        samplers = List.copyOf(foundSamplers.values());
        embeddings = Map.copyOf(foundEmbeddings);
    }

    /** The registered card of a model, or null (none, or one this version cannot read: the model then gives no card warnings). */
    private static ModelCard card(String modelId, JsonNode json) {
        if (json == null || json.isNull()) {
            return null;
        }
        try {
            return ModelCard.fromJson(json);
        } catch (IllegalArgumentException e) {
            LOG.warn("model {}: its registered model card cannot be read ({}); its prompts get no card warnings", modelId, e.getMessage());
            return null;
        }
    }

    /** The embeddings the model's workers registered (the files of their embeddings folder, with whether the model can use each). */
    @Override
    public List<EmbeddingDescriptor> embeddings(String modelId) {
        return embeddings.getOrDefault(modelId, List.of());
    }

    @Override
    public List<ModelDescriptor> models() {
        return models;
    }

    /** The first registered model (by id) that a live worker serves; with none served, the first registered; "none" before any. */
    @Override
    public String defaultModelId() {
        List<ModelDescriptor> known = models;
        return known.stream().map(ModelDescriptor::id).filter(served).findFirst()
                .orElse(known.isEmpty() ? "none" : known.get(0).id());
    }

    /** A model registered since the last {@link #refresh()} (a worker that just started) is found: the models are read again first. */
    @Override
    public Optional<ModelDescriptor> findModel(String modelId) {
        Optional<ModelDescriptor> known = ImageEngine.super.findModel(modelId);
        if (known.isPresent()) {
            return known;
        }
        try {
            refresh();
        } catch (SQLException e) {
            throw new RequestException(503, "database_unavailable", "the model registry is unavailable: " + e.getMessage(), null);
        }
        return ImageEngine.super.findModel(modelId);
    }

    @Override
    public boolean serves(String modelId) {
        return served.test(modelId);
    }

    @Override
    public List<SamplerDescriptor> samplers() {
        return samplers;
    }

    @Override
    public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) {
        throw new UnsupportedOperationException("an api node runs no jobs");
    }
}
