package daguerre.server.gallery;

/**
 * A gallery search; null fields do not filter.
 *
 * @param text words that must all appear in the prompt or negative prompt (full-text search)
 * @param favorite only favourites (true) or only the others (false)
 * @param model only images of this model id
 * @param sampler only images of this sampler
 * @param from only images created at or after this time, epoch milliseconds
 * @param to only images created before this time, epoch milliseconds
 * @param cursor the {@code next_cursor} of the previous page
 * @param limit the most images to return
 */
public record ImageQuery(String text, Boolean favorite, String model, String sampler, Long from, Long to, String cursor, int limit) {}
