package daguerre.server.jobs;

import daguerre.weights.model.ModelCard;
import java.util.List;
import java.util.Optional;

/**
 * One model an engine can run.
 *
 * @param id the id clients pass as {@code model}: the model card's id, else the folder or file name
 *           without extension
 * @param name the display name (A1111's {@code model_name})
 * @param hash the A1111 short hash: the first 10 hex digits of the SHA-256 of the checkpoint file
 * @param defaultWidth the width used when a request gives none, in pixels
 * @param defaultHeight the height used when a request gives none, in pixels
 * @param description a short description (the card's, else family and resolution), may be empty
 * @param card what the model says about itself, or null
 * @param textEncoderLayers the layers of its text encoder (SDXL: the fewer of its two): the largest clip skip it takes
 * @param family {@link #SD} (Stable Diffusion 1.x/2.x) or {@link #SDXL}
 */
public record ModelDescriptor(String id, String name, String hash, int defaultWidth, int defaultHeight, String description,
                             ModelCard card, int textEncoderLayers, String family) {

    /** Stable Diffusion 1.x/2.x: one text encoder. */
    public static final String SD = "sd";
    /** SDXL: two text encoders and micro-conditioning. */
    public static final String SDXL = "sdxl";

    public ModelDescriptor {
        if (!family.equals(SD) && !family.equals(SDXL)) {
            throw new IllegalArgumentException("model family must be " + SD + " or " + SDXL + ", got " + family);
        }
    }

    /** A Stable Diffusion 1.x/2.x model. */
    public ModelDescriptor(String id, String name, String hash, int defaultWidth, int defaultHeight, String description,
                           ModelCard card, int textEncoderLayers) {
        this(id, name, hash, defaultWidth, defaultHeight, description, card, textEncoderLayers, SD);
    }

    public boolean isSdxl() {
        return family.equals(SDXL);
    }

    /** The card, if the model has one. */
    public Optional<ModelCard> modelCard() {
        return Optional.ofNullable(card);
    }

    /** Why {@code prompt} may not come out as intended on this model (see {@link ModelCard#promptWarnings}). */
    public List<String> promptWarnings(String prompt) {
        return card == null ? List.of() : card.promptWarnings(prompt);
    }
}
