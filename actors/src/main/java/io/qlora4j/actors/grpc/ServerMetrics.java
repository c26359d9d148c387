package io.qlora4j.actors.grpc;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a {@link DatasetServer} has done, for tests, logs and a status line. {@link #recordsSent()} counts records
 * handed to gRPC; since the server hands one on only while the call is ready, the gap between it and what a paused
 * client has taken stays within the transport's flow-control window.
 */
public final class ServerMetrics {
    private final AtomicLong recordsSent = new AtomicLong();
    private final AtomicInteger openStreams = new AtomicInteger();
    private final AtomicLong streamsStarted = new AtomicLong();

    void streamStarted() {
        streamsStarted.incrementAndGet();
        openStreams.incrementAndGet();
    }

    void streamEnded() {
        openStreams.decrementAndGet();
    }

    void recordSent() {
        recordsSent.incrementAndGet();
    }

    /** Records handed to gRPC so far, over all streams. */
    public long recordsSent() {
        return recordsSent.get();
    }

    /** Streams being served now. */
    public int openStreams() {
        return openStreams.get();
    }

    /** Streams started so far (a reconnecting client starts a new one). */
    public long streamsStarted() {
        return streamsStarted.get();
    }
}
