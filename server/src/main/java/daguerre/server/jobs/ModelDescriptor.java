package daguerre.server.jobs;

/**
 * One model an engine can run.
 *
 * @param id the id clients pass as {@code model}: the folder or file name without extension
 * @param name the display name (A1111's {@code model_name})
 * @param hash the A1111 short hash: the first 10 hex digits of the SHA-256 of the checkpoint file
 * @param defaultWidth the width used when a request gives none, in pixels
 * @param defaultHeight the height used when a request gives none, in pixels
 * @param description a short description (family, resolution), may be empty
 */
public record ModelDescriptor(String id, String name, String hash, int defaultWidth, int defaultHeight, String description) {}
