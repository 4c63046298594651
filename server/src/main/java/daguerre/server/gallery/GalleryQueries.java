package daguerre.server.gallery;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import daguerre.server.jobs.Ids;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The SQL that the single-machine gallery (SQLite) and a cluster's gallery index (PostgreSQL) share:
 * both have an {@code images} table with a {@code seq} that orders the rows, the same filter
 * columns and a {@code board_id} that names a row of {@code boards}.
 */
public final class GalleryQueries {

    /** Reads one row of a result. */
    @FunctionalInterface
    public interface RowReader<T> {
        T read(ResultSet rows) throws SQLException;
    }

    private GalleryQueries() {}

    /** Appends {@code AND condition} with its one argument, unless the argument is null. */
    public static void filter(StringBuilder sql, List<Object> args, String condition, Object value) {
        if (value != null) {
            sql.append(" AND ").append(condition);
            args.add(value);
        }
    }

    /**
     * Appends the query's filters that read the same in both dialects: model, sampler, size, board
     * ({@link ImageQuery#NO_BOARD}: on none) and creation time.
     */
    public static void commonFilters(StringBuilder sql, List<Object> args, ImageQuery query) {
        filter(sql, args, "model = ?", query.model());
        filter(sql, args, "sampler = ?", query.sampler());
        filter(sql, args, "width = ?", query.width());
        filter(sql, args, "height = ?", query.height());
        if (ImageQuery.NO_BOARD.equals(query.board())) {
            sql.append(" AND board_id IS NULL");
        } else {
            filter(sql, args, "board_id = ?", query.board());
        }
        filter(sql, args, "created_at >= ?", query.from());
        filter(sql, args, "created_at < ?", query.to());
    }

    /**
     * Runs {@code sql} (its parameters: {@code value}, then an image id) once for each distinct valid id of
     * {@code ids}, on the caller's connection (inside its transaction); returns the rows it changed.
     */
    public static int updateEach(Connection c, Collection<String> ids, String sql, Object value) throws SQLException {
        int changed = 0;
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (String id : ids.stream().filter(Ids::isValid).distinct().toList()) {
                s.setObject(1, value);
                s.setString(2, id);
                changed += s.executeUpdate();
            }
        }
        return changed;
    }

    /** The ids of {@code ids} that name no row of {@code images} (in their order; anything that is not an id among them). */
    public static List<String> missing(Connection c, Collection<String> ids) throws SQLException {
        List<String> missing = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM images WHERE id = ?")) {
            for (String id : ids) {
                if (!Ids.isValid(id)) {
                    missing.add(id);
                    continue;
                }
                s.setString(1, id);
                try (ResultSet row = s.executeQuery()) {
                    if (!row.next()) {
                        missing.add(id);
                    }
                }
            }
        }
        return missing;
    }

    /**
     * One page of {@code query}: appends the query's cursor, order and limit to {@code sql} (a
     * {@code SELECT} of {@code images} with its filters, selecting {@code seq}), runs it and reads
     * the rows, with the next page's cursor when there are more.
     */
    public static ImagePage page(Connection c, StringBuilder sql, List<Object> args, ImageQuery query,
            RowReader<ImageEntry> read) throws SQLException {
        boolean oldestFirst = query.order() == ImageQuery.Order.OLDEST;
        filter(sql, args, oldestFirst ? "seq > ?" : "seq < ?",
                query.cursor() == null ? null : ImageCursor.decode(query.cursor(), query.order()));
        sql.append(oldestFirst ? " ORDER BY seq ASC LIMIT ?" : " ORDER BY seq DESC LIMIT ?");
        args.add(query.limit() + 1);
        try (PreparedStatement s = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < args.size(); i++) {
                s.setObject(i + 1, args.get(i));
            }
            List<ImageEntry> items = new ArrayList<>();
            long lastSeq = 0;
            boolean more = false;
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    if (items.size() == query.limit()) {
                        more = true;
                        break;
                    }
                    lastSeq = rows.getLong("seq");
                    items.add(read.read(rows));
                }
            }
            return new ImagePage(items, more ? ImageCursor.encode(lastSeq, query.order()) : null);
        }
    }

    /** The image sizes in {@code images} and their counts, the most common first. */
    public static List<ImageGallery.SizeCount> sizes(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT width, height, COUNT(*) FROM images GROUP BY width, height "
                + "ORDER BY COUNT(*) DESC, width, height"); ResultSet rows = s.executeQuery()) {
            List<ImageGallery.SizeCount> sizes = new ArrayList<>();
            while (rows.next()) {
                sizes.add(new ImageGallery.SizeCount(rows.getInt(1), rows.getInt(2), rows.getLong(3)));
            }
            return sizes;
        }
    }
}
