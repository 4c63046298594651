package daguerre.server.cluster;

import daguerre.diffusion.pipeline.PngText;
import daguerre.server.gallery.Boards;
import daguerre.server.gallery.Gallery;
import daguerre.server.gallery.GalleryQueries;
import daguerre.server.gallery.ImageEntry;
import daguerre.server.gallery.ImageGallery;
import daguerre.server.gallery.ImagePage;
import daguerre.server.gallery.ImageQuery;
import daguerre.server.gallery.Thumbnails;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.GenerationRequests;
import daguerre.server.jobs.Ids;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The gallery of a cluster: PNG files in the shared images folder (the single-process layout,
 * {@code IMAGES/ab/abcdef....png}) and their index rows in PostgreSQL. A worker first writes a
 * job's images whole to hidden staging files of its own lease ({@link #stage}); the transaction
 * that completes the job, once it confirmed the lease, renames them into place and inserts their
 * rows ({@link Staged#commit}). A worker that lost the job deletes its staging files instead, so
 * a late result never replaces or adds a file. The api nodes search and serve it as the one
 * process does its SQLite gallery (prompt search with PostgreSQL's full-text search, the
 * {@code simple} configuration: words lower-cased, not stemmed, all required); thumbnails are made
 * once, by whichever api node is asked first, in the hidden {@code .thumbnails} folder of the images folder.
 * Boards are the one process's {@link Boards} over PostgreSQL (the same SQL); a bulk change or
 * deletion is one transaction, and a deletion removes the files only once it committed.
 */
public final class ClusterGallery implements ImageGallery {

    private static final String COLUMNS = "seq, id, job_id, prompt, negative_prompt, model, sampler, seed, steps, guidance_scale,"
            + " width, height, created_at, favorite, infotext, request, board_id";

    private final PgDatabase database;
    private final Boards boards;
    private final Path imagesDir;
    private final Path thumbnailsDir;

    public ClusterGallery(PgDatabase database, Path imagesDir) throws IOException {
        this.database = database;
        this.boards = new Boards(database);
        this.imagesDir = imagesDir;
        this.thumbnailsDir = imagesDir.resolve(".thumbnails");
        Files.createDirectories(imagesDir);
    }

    public Path imagesDir() {
        return imagesDir;
    }

    /** One image written to its staging file. */
    private record StagedImage(String id, Path staging, Path file, GenerationParams params, String request, EngineResult.Image image,
            int width, int height) {}

    /**
     * A job's images written to staging files, waiting for the transaction that completes the job;
     * or, for a job whose images are not saved to the gallery, the images kept for its client.
     */
    public final class Staged {

        private final List<StagedImage> images;
        private final String jobId;
        private final String worker;
        private final EngineResult unsaved;

        private Staged(String jobId, String worker, List<StagedImage> images, EngineResult unsaved) {
            this.jobId = jobId;
            this.worker = worker;
            this.images = images;
            this.unsaved = unsaved;
        }

        /** The gallery ids of the images (none when they are not saved to the gallery). */
        public List<String> ids() {
            return images.stream().map(StagedImage::id).toList();
        }

        /** Inside the completing transaction: moves the files into place and inserts their rows, or keeps the unsaved images. */
        public void commit(Connection c) throws SQLException {
            if (unsaved != null) {
                PgJobs.storeResults(c, jobId, unsaved);
                return;
            }
            try {
                for (StagedImage image : images) {
                    Files.move(image.staging(), image.file(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                throw new SQLException("cannot move the images of job " + jobId + " into place: " + e.getMessage(), e);
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO images (id, job_id, file, prompt, negative_prompt, model, "
                    + "sampler, seed, steps, guidance_scale, width, height, created_at, infotext, request, worker) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")) {
                for (StagedImage image : images) {
                    GenerationParams params = image.params();
                    s.setString(1, image.id());
                    s.setString(2, jobId);
                    s.setString(3, imagesDir.relativize(image.file()).toString());
                    s.setString(4, params.prompt());
                    s.setString(5, params.negativePrompt());
                    s.setString(6, params.model());
                    s.setString(7, params.sampler());
                    s.setLong(8, image.image().seed());
                    s.setInt(9, params.steps());
                    s.setDouble(10, params.guidanceScale());
                    s.setInt(11, image.width());
                    s.setInt(12, image.height());
                    s.setLong(13, System.currentTimeMillis());
                    s.setString(14, image.image().infotext());
                    s.setString(15, image.request());
                    s.setString(16, worker);
                    s.addBatch();
                }
                s.executeBatch();
            }
        }

        /** Deletes the staging files (the job was lost, or its transaction failed). */
        public void discard() {
            for (StagedImage image : images) {
                try {
                    Files.deleteIfExists(image.staging());
                } catch (IOException ignored) {
                    // a leftover hidden staging file is harmless
                }
            }
        }
    }

    /** Writes a job's images to staging files named by {@code token}, forced to disk. */
    public Staged stage(String jobId, String worker, String token, GenerationParams params, EngineResult result) throws IOException {
        String request = GenerationRequests.toJson(params).put("job_id", jobId).toString();
        List<StagedImage> images = new ArrayList<>();
        try {
            for (int i = 0; i < result.images().size(); i++) {
                EngineResult.Image image = result.images().get(i);
                String id = Ids.derived(jobId, i);
                byte[] png = PngText.withText(image.png(), Gallery.REQUEST_CHUNK, request);
                Path file = imageFile(id);
                Files.createDirectories(file.getParent());
                Path staging = file.resolveSibling("." + id + "." + token + ".part");
                try (FileChannel channel = FileChannel.open(staging, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
                    ByteBuffer buffer = ByteBuffer.wrap(png);
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                    }
                    channel.force(true);
                }
                ByteBuffer header = ByteBuffer.wrap(png);
                images.add(new StagedImage(id, staging, file, params, request, image, header.getInt(16), header.getInt(20)));
            }
        } catch (IOException | RuntimeException e) {
            new Staged(jobId, worker, images, null).discard();
            throw e;
        }
        return new Staged(jobId, worker, images, null);
    }

    /** The images of a job not saved to the gallery: kept in the database, in the completing transaction, for its client. */
    public Staged unsaved(String jobId, EngineResult result) {
        return new Staged(jobId, null, List.of(), result);
    }

    @Override
    public ImagePage list(ImageQuery query) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM images WHERE TRUE");
        List<Object> args = new ArrayList<>();
        String words = query.text() == null ? "" : query.text().replaceAll("\\p{Cntrl}", " ").strip();
        if (!words.isEmpty()) {
            sql.append(" AND to_tsvector('simple', prompt || ' ' || negative_prompt) @@ plainto_tsquery('simple', ?)");
            args.add(words);
        }
        GalleryQueries.filter(sql, args, "favorite = ?", query.favorite());
        GalleryQueries.commonFilters(sql, args, query);
        return database.call(c -> GalleryQueries.page(c, sql, args, query, ClusterGallery::read));
    }

    @Override
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

    /** The PNG file of an indexed image, if any. */
    @Override
    public Optional<Path> file(String id) throws SQLException {
        if (!Ids.isValid(id)) {
            return Optional.empty();
        }
        String relative = database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT file FROM images WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rows = s.executeQuery()) {
                    return rows.next() ? rows.getString(1) : null;
                }
            }
        });
        return Optional.ofNullable(relative).map(imagesDir::resolve).filter(Files::isRegularFile);
    }

    @Override
    public Optional<byte[]> png(String id) throws SQLException, IOException {
        Optional<Path> file = file(id);
        return file.isEmpty() ? Optional.empty() : Optional.of(Files.readAllBytes(file.get()));
    }

    @Override
    public Optional<Path> thumbnail(String id) throws SQLException, IOException {
        Optional<Path> source = file(id);
        if (source.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Thumbnails.ensure(source.get(), thumbnailFile(id)));
    }

    @Override
    public boolean setFavorite(String id, boolean favorite) throws SQLException {
        return setFavorite(List.of(id), favorite) == 1;
    }

    @Override
    public boolean delete(String id) throws SQLException, IOException {
        return delete(List.of(id)) == 1;
    }

    @Override
    public List<SizeCount> sizes() throws SQLException {
        return database.call(GalleryQueries::sizes);
    }

    @Override
    public List<String> missing(Collection<String> ids) throws SQLException {
        return database.call(c -> GalleryQueries.missing(c, ids));
    }

    /** Marks or unmarks images as favourites, in one transaction; returns how many there were. */
    @Override
    public int setFavorite(Collection<String> ids, boolean favorite) throws SQLException {
        return database.transaction(c -> GalleryQueries.updateEach(c, ids, "UPDATE images SET favorite = ? WHERE id = ?", favorite));
    }

    /**
     * Deletes images: their rows in one transaction, then, once it committed, their files and
     * thumbnails (a failed transaction leaves every row and file as it was); returns how many there were.
     */
    @Override
    public int delete(Collection<String> ids) throws SQLException, IOException {
        List<String> valid = ids.stream().filter(Ids::isValid).distinct().toList();
        Map<String, String> deleted = database.transaction(c -> {
            Map<String, String> files = new LinkedHashMap<>();
            try (PreparedStatement s = c.prepareStatement("DELETE FROM images WHERE id = ? RETURNING file")) {
                for (String id : valid) {
                    s.setString(1, id);
                    try (ResultSet rows = s.executeQuery()) {
                        if (rows.next()) {
                            files.put(id, rows.getString(1));
                        }
                    }
                }
            }
            return files;
        });
        for (Map.Entry<String, String> image : deleted.entrySet()) {
            Files.deleteIfExists(imagesDir.resolve(image.getValue()));
            Files.deleteIfExists(thumbnailFile(image.getKey()));
        }
        return deleted.size();
    }

    @Override
    public Boards boards() {
        return boards;
    }

    /** Puts images on a board (null: on none), in one transaction; returns how many there were. The board must exist. */
    @Override
    public int setBoard(Collection<String> ids, String boardId) throws SQLException {
        return database.transaction(c -> GalleryQueries.updateEach(c, ids, "UPDATE images SET board_id = ? WHERE id = ?", boardId));
    }

    private Path thumbnailFile(String id) {
        return thumbnailsDir.resolve(id.substring(0, 2)).resolve(id + ".png");
    }

    private static ImageEntry read(ResultSet rows) throws SQLException {
        return new ImageEntry(rows.getString("id"), rows.getString("job_id"), rows.getString("prompt"),
                rows.getString("negative_prompt"), rows.getString("model"), rows.getString("sampler"), rows.getLong("seed"),
                rows.getInt("steps"), rows.getDouble("guidance_scale"), rows.getInt("width"), rows.getInt("height"),
                rows.getLong("created_at"), rows.getBoolean("favorite"), rows.getString("infotext"), rows.getString("request"),
                rows.getString("board_id"));
    }

    /** Images in the index. */
    @Override
    public long count() throws SQLException {
        return database.call(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM images"); ResultSet rows = s.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        });
    }

    private Path imageFile(String id) {
        return imagesDir.resolve(id.substring(0, 2)).resolve(id + ".png");
    }
}
