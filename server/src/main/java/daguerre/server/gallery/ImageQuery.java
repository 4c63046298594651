package daguerre.server.gallery;

/**
 * A gallery search; null fields do not filter.
 *
 * @param text words that must all appear in the prompt or negative prompt (full-text search)
 * @param favorite only favourites (true) or only the others (false)
 * @param model only images of this model id
 * @param sampler only images of this sampler
 * @param width only images of this width, in pixels
 * @param height only images of this height, in pixels
 * @param board only images on this board id, or on no board ({@link #NO_BOARD})
 * @param from only images created at or after this time, epoch milliseconds
 * @param to only images created before this time, epoch milliseconds
 * @param order newest or oldest first
 * @param cursor the {@code next_cursor} of the previous page (of the same order)
 * @param limit the most images to return
 */
public record ImageQuery(String text, Boolean favorite, String model, String sampler, Integer width, Integer height, String board,
        Long from, Long to, Order order, String cursor, int limit) {

    /** The {@link #board} that finds the images on no board (never a board id, which has 20 characters). */
    public static final String NO_BOARD = "none";

    /** The order of a gallery page. */
    public enum Order {
        NEWEST, OLDEST
    }
}
