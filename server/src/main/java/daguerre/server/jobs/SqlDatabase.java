package daguerre.server.jobs;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * A database the stores whose SQL is the same in both dialects run on: the one process's SQLite
 * {@link Database}, or a cluster's PostgreSQL database every node shares.
 */
public interface SqlDatabase {

    /** Work done with a connection. */
    @FunctionalInterface
    interface Work<T> {
        T apply(Connection connection) throws SQLException;
    }

    /** Runs {@code work} with a connection in auto-commit mode. */
    <T> T call(Work<T> work) throws SQLException;

    /** Runs {@code work} in one transaction, rolled back when it throws. */
    <T> T transaction(Work<T> work) throws SQLException;
}
