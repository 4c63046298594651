package daguerre.weights.model;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.weights.TensorSource;

/**
 * One model component (U-Net, VAE or text encoder): its tensors under canonical diffusers /
 * transformers names, and its {@code config.json} (read from a folder, or inferred from shapes
 * for a single file).
 */
public record ModelComponent(TensorSource weights, JsonNode config) {}
