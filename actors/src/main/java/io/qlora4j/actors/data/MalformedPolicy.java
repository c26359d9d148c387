package io.qlora4j.actors.data;

/** What a data source does with a record it cannot train on (malformed JSON, a missing field, untokenizable text). */
public enum MalformedPolicy {
    /** Drop the record, count it, and log one line naming its file and line. */
    SKIP,
    /** Fail the stream with the record's error. */
    FAIL
}
