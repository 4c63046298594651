package daguerre.server.gallery;

/**
 * A board: a named album of gallery images (an image is on at most one board).
 *
 * @param id the opaque board id
 * @param name its name, unique regardless of ASCII case
 * @param createdAt when it was made, epoch milliseconds
 * @param imageCount how many images it holds
 */
public record Board(String id, String name, long createdAt, long imageCount) {}
