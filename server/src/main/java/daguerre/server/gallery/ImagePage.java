package daguerre.server.gallery;

import java.util.List;

/**
 * One page of gallery results, newest first.
 *
 * @param items the images
 * @param nextCursor the cursor of the next page, or null on the last page
 */
public record ImagePage(List<ImageEntry> items, String nextCursor) {}
