package daguerre.server.gallery;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The gallery as the HTTP routes use it: the one process's {@link Gallery} over SQLite, or a
 * cluster's images in the folder every node mounts, indexed in PostgreSQL. Ids that are not
 * image ids find nothing.
 */
public interface ImageGallery {

    /** Searches the gallery, newest first. */
    ImagePage list(ImageQuery query) throws SQLException;

    /** The image with this id, if any. */
    Optional<ImageEntry> find(String id) throws SQLException;

    /** The PNG file of an image, or empty. */
    Optional<Path> file(String id) throws SQLException;

    /** The PNG bytes of an image, or empty. */
    Optional<byte[]> png(String id) throws SQLException, IOException;

    /** The thumbnail of an image (at most {@link Gallery#THUMBNAIL_SIZE} on its longest side, made once), or empty. */
    Optional<Path> thumbnail(String id) throws SQLException, IOException;

    /** Marks or unmarks an image as a favourite; false when there is no such image. */
    boolean setFavorite(String id, boolean favorite) throws SQLException;

    /** Deletes an image: its row, its file and its thumbnail; false when there is no such image. */
    boolean delete(String id) throws SQLException, IOException;

    /** Number of images. */
    long count() throws SQLException;

    /**
     * One image size in the gallery and how many images have it.
     *
     * @param width in pixels
     * @param height in pixels
     * @param count the images of this size
     */
    record SizeCount(int width, int height, long count) {}

    /** The image sizes in the gallery, the most common first. */
    List<SizeCount> sizes() throws SQLException;

    /** The ids of {@code ids} that name no image (in their order; anything that is not an id among them). */
    List<String> missing(Collection<String> ids) throws SQLException;

    /** Marks or unmarks images as favourites; returns how many there were. */
    int setFavorite(Collection<String> ids, boolean favorite) throws SQLException;

    /** Deletes images (rows, files, thumbnails); returns how many there were. */
    int delete(Collection<String> ids) throws SQLException, IOException;

    /** The boards (named albums). */
    Boards boards();

    /** Puts images on a board (null: on none); returns how many there were. The board must exist. */
    int setBoard(Collection<String> ids, String boardId) throws SQLException;
}
