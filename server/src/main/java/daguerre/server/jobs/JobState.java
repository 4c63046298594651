package daguerre.server.jobs;

import java.util.Locale;

/** The life of a job: {@code queued → running → succeeded | failed | cancelled}. */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    /** The lowercase name used in JSON, events and the database. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static JobState fromWire(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }

    /** Whether the job is over (succeeded, failed or cancelled). */
    public boolean isFinal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
