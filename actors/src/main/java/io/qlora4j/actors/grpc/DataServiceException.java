package io.qlora4j.actors.grpc;

import io.qlora4j.model.data.DataException;

/**
 * A dataset service refused or could not serve a request, or a data server stopped answering. The message says what,
 * where (server, dataset, offset) and how to fix it; the {@link Kind} lets the server choose a gRPC status and a caller
 * tell a wrong request from a dead peer. It is a {@link DataException}: to a trainer, unreachable data is bad data.
 */
public final class DataServiceException extends DataException {

    public enum Kind {
        /** A malformed request or URL, or a dataset name that escapes the served folder. */
        INVALID_REQUEST,
        /** No such dataset. */
        NOT_FOUND,
        /** The dataset exists but cannot be streamed (empty, unknown format, unreadable). */
        UNUSABLE_DATASET,
        /** A missing or wrong bearer token. */
        UNAUTHENTICATED,
        /** The server did not come back after the configured reconnect attempts. */
        DEAD_PEER,
        /** Any other failure reported by the server. */
        SERVER_ERROR
    }

    private final Kind kind;

    public DataServiceException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
