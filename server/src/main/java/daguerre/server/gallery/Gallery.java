package daguerre.server.gallery;

import daguerre.diffusion.pipeline.PngText;
import daguerre.server.files.AtomicFiles;
import daguerre.server.jobs.Database;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.Ids;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The image gallery: PNG files under {@code images/} in the data directory, written atomically
 * (temporary file, then rename), indexed in the {@code images} table with full-text search on
 * prompts. Files are found from the id through the index, never from a path a client gave.
 */
public final class Gallery implements ImageGallery {

    /** The PNG text chunk holding the full native request as JSON. */
    public static final String REQUEST_CHUNK = "daguerre";
    /** The longest side of a thumbnail, in pixels. */
    public static final int THUMBNAIL_SIZE = 256;
    private static final String COLUMNS = "id, job_id, prompt, negative_prompt, model, sampler, seed, steps, guidance_scale, "
            + "width, height, created_at, favorite, infotext, request, board_id";

    private final Database database;
    private final Boards boards;
    private final Path imagesDir;
    private final Path thumbnailsDir;

    /**
     * Opens the gallery under {@code dataDir}, removing what a crash may have left: temporary files
     * of a write in progress, and orphans, image and thumbnail PNGs named by an image id that has
     * no row (a kill between writing an image and recording it; the job runs again after the
     * restart and writes it anew). Files not named by an id are left alone.
     */
    public Gallery(Database database, Path dataDir) throws IOException, SQLException {
        this.database = database;
        this.boards = new Boards(database);
        this.imagesDir = Files.createDirectories(dataDir.resolve("images")).toRealPath();
        this.thumbnailsDir = Files.createDirectories(dataDir.resolve("thumbnails")).toRealPath();
        for (Path dir : List.of(imagesDir, thumbnailsDir)) {
            try (var files = Files.walk(dir)) {
                for (Path temp : files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList()) {
                    Files.deleteIfExists(temp);
                }
            }
        }
        int orphans = sweepOrphans();
        if (orphans > 0) {
            System.err.println("gallery: removed " + orphans + " image file(s) that no gallery row records (left by a crash)");
        }
    }

    /** Deletes image and thumbnail files whose id has no row; returns how many. */
    private int sweepOrphans() throws IOException, SQLException {
        List<Path> candidates = new ArrayList<>();
        for (Path dir : List.of(imagesDir, thumbnailsDir)) {
            try (var files = Files.walk(dir)) {
                files.filter(f -> Ids.isValid(idOf(f)) && Files.isRegularFile(f)).forEach(candidates::add);
            }
        }
        Set<String> unrecorded = new HashSet<>(missing(candidates.stream().map(Gallery::idOf).toList()));
        List<Path> orphans = candidates.stream().filter(file -> unrecorded.contains(idOf(file))).toList();
        for (Path orphan : orphans) {
            Files.deleteIfExists(orphan);
        }
        return orphans.size();
    }

    /** The id a gallery file is named by ({@code <id>.png}), or the file name when it is not a PNG. */
    private static String idOf(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    }

    /**
     * Stores image {@code index} of a job: adds the request chunk to its PNG, writes it atomically
     * and indexes it. Idempotent: the id derives from the job and the index, so a job re-run after
     * a crash between the write and the job's end rewrites the same file and keeps the one row.
     *
     * @param requestJson the job's full native request
     * @return the image id
     */
    public String store(String jobId, int index, GenerationParams params, String requestJson, EngineResult.Image image)
            throws IOException, SQLException {
        String id = Ids.derived(jobId, index);
        byte[] png = PngText.withText(image.png(), REQUEST_CHUNK, requestJson);
        Path file = imageFile(id);
        AtomicFiles.write(file, png);
        int[] size = pngSize(png);
        try {
            database.call(c -> {
                try (PreparedStatement s = c.prepareStatement("INSERT INTO images (id, job_id, file, prompt, negative_prompt, model, "
                        + "sampler, seed, steps, guidance_scale, width, height, created_at, infotext, request) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING")) {
                    s.setString(1, id);
                    s.setString(2, jobId);
                    s.setString(3, imagesDir.relativize(file).toString());
                    s.setString(4, params.prompt());
                    s.setString(5, params.negativePrompt());
                    s.setString(6, params.model());
                    s.setString(7, params.sampler());
                    s.setLong(8, image.seed());
                    s.setInt(9, params.steps());
                    s.setDouble(10, params.guidanceScale());
                    s.setInt(11, size[0]);
                    s.setInt(12, size[1]);
                    s.setLong(13, System.currentTimeMillis());
                    s.setString(14, image.infotext());
                    s.setString(15, requestJson);
                    return s.executeUpdate();
                }
            });
        } catch (SQLException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
        return id;
    }

    /** The boards the images can be put on. */
    @Override
    public Boards boards() {
        return boards;
    }

    /** Searches the gallery, in the query's order. */
    public ImagePage list(ImageQuery query) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT seq, " + COLUMNS + " FROM images WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        String words = query.text() == null ? null : ftsQuery(query.text());
        if (words != null) {
            sql.append(" AND seq IN (SELECT rowid FROM images_fts WHERE images_fts MATCH ?)");
            args.add(words);
        }
        if (query.favorite() != null) {
            sql.append(" AND favorite = ?");
            args.add(query.favorite() ? 1 : 0);
        }
        GalleryQueries.commonFilters(sql, args, query);
        return database.call(c -> GalleryQueries.page(c, sql, args, query, Gallery::read));
    }

    @Override
    public List<SizeCount> sizes() throws SQLException {
        return database.call(GalleryQueries::sizes);
    }

    /** The image with this id, if any; anything that is not an id finds nothing. */
    public Optional<ImageEntry> find(String id) throws SQLException {
        if (!Ids.isValid(id)) {
            return Optional.empty();
        }
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM images WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    return rows.next() ? Optional.of(read(rows)) : Optional.empty();
                }
            }
        });
    }

    /** The PNG file of an image, or empty when there is no such image. */
    public Optional<Path> file(String id) throws SQLException {
        if (find(id).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(imageFile(id)).filter(Files::isRegularFile);
    }

    /** The PNG bytes of an image, or empty. */
    public Optional<byte[]> png(String id) throws SQLException, IOException {
        Optional<Path> file = file(id);
        return file.isEmpty() ? Optional.empty() : Optional.of(Files.readAllBytes(file.get()));
    }

    /** The thumbnail of an image (at most {@link #THUMBNAIL_SIZE} on its longest side, never enlarged; made once and cached), or empty. */
    public Optional<Path> thumbnail(String id) throws SQLException, IOException {
        Optional<Path> source = file(id);
        if (source.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Thumbnails.ensure(source.get(), thumbnailsDir.resolve(id + ".png")));
    }

    /** The ids of {@code ids} that name no image (in their order; anything that is not an id among them). */
    @Override
    public List<String> missing(Collection<String> ids) throws SQLException {
        return database.call(c -> GalleryQueries.missing(c, ids));
    }

    /** Marks or unmarks an image as a favourite; false when there is no such image. */
    public boolean setFavorite(String id, boolean favorite) throws SQLException {
        return setFavorite(List.of(id), favorite) == 1;
    }

    /** Marks or unmarks images as favourites, in one transaction; returns how many there were. */
    @Override
    public int setFavorite(Collection<String> ids, boolean favorite) throws SQLException {
        return updateEach(ids, "UPDATE images SET favorite = ? WHERE id = ?", favorite ? 1 : 0);
    }

    /**
     * Puts images on a board (null: on none), in one transaction; returns how many there were.
     * The board must exist ({@link Boards#find}).
     */
    @Override
    public int setBoard(Collection<String> ids, String boardId) throws SQLException {
        return updateEach(ids, "UPDATE images SET board_id = ? WHERE id = ?", boardId);
    }

    /** Runs {@code sql} (its parameters: {@code value}, then the id) for each id, in one transaction; the rows it changed. */
    private int updateEach(Collection<String> ids, String sql, Object value) throws SQLException {
        return database.transaction(c -> GalleryQueries.updateEach(c, ids, sql, value));
    }

    /** Deletes an image: its row, its file and its thumbnail; false when there is no such image. */
    public boolean delete(String id) throws SQLException, IOException {
        return delete(List.of(id)) == 1;
    }

    /**
     * Deletes images: their rows in one transaction, then their files and thumbnails; returns how
     * many there were.
     */
    @Override
    public int delete(Collection<String> ids) throws SQLException, IOException {
        List<String> valid = ids.stream().filter(Ids::isValid).distinct().toList();
        List<String> deleted = database.transaction(c -> {
            List<String> gone = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("DELETE FROM images WHERE id = ?")) {
                for (String id : valid) {
                    s.setString(1, id);
                    if (s.executeUpdate() == 1) {
                        gone.add(id);
                    }
                }
            }
            return gone;
        });
        for (String id : deleted) {
            Files.deleteIfExists(imageFile(id));
            Files.deleteIfExists(thumbnailsDir.resolve(id + ".png"));
        }
        return deleted.size();
    }

    /** Number of images in the gallery. */
    public long count() throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM images"); ResultSet rows = s.executeQuery()) {
                return rows.getLong(1);
            }
        });
    }

    /** {@code images/<first two characters>/<id>.png}; the id was checked against {@link Ids#isValid}. */
    private Path imageFile(String id) {
        if (!Ids.isValid(id)) {
            throw new IllegalArgumentException("not an image id: " + id);
        }
        return imagesDir.resolve(id.substring(0, 2)).resolve(id + ".png");
    }

    /** Width and height from the PNG's IHDR chunk, which the format puts first (no decoding). */
    private static int[] pngSize(byte[] png) throws IOException {
        // 8-byte signature, then IHDR: length (4), "IHDR" (4), width (4, big-endian), height (4)
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(png);
        if (png.length < 24 || bytes.getLong(0) != 0x89504E470D0A1A0AL || bytes.getInt(12) != 0x49484452) {
            throw new IOException("the engine returned bytes that are not a PNG image");
        }
        return new int[] {bytes.getInt(16), bytes.getInt(20)};
    }

    /**
     * Each word quoted, so that FTS5 operators in user input are plain text; words are ANDed.
     * Control characters (a NUL would end SQLite's copy of the string inside a quote) separate words.
     * Null when the text has no words.
     */
    private static String ftsQuery(String text) {
        String clean = text.replaceAll("\\p{Cntrl}", " ").strip();
        if (clean.isEmpty()) {
            return null;
        }
        StringBuilder query = new StringBuilder();
        for (String word : clean.split("\\s+")) {
            if (query.length() > 0) {
                query.append(' ');
            }
            query.append('"').append(word.replace("\"", "\"\"")).append('"');
        }
        return query.toString();
    }

    private static ImageEntry read(ResultSet rows) throws SQLException {
        return new ImageEntry(rows.getString("id"), rows.getString("job_id"), rows.getString("prompt"),
                rows.getString("negative_prompt"), rows.getString("model"), rows.getString("sampler"), rows.getLong("seed"),
                rows.getInt("steps"), rows.getDouble("guidance_scale"), rows.getInt("width"), rows.getInt("height"),
                rows.getLong("created_at"), rows.getInt("favorite") == 1, rows.getString("infotext"), rows.getString("request"),
                rows.getString("board_id"));
    }
}
