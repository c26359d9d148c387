package io.qlora4j.actors.grpc;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How a trainer talks to a data server.
 *
 * @param bearerToken            sent as {@code authorization: Bearer <token>} when present
 * @param trustedCertificate     for {@code grpcs://}: the PEM certificate (or CA) to trust; the JDK's roots when absent
 * @param maxAttempts            reconnect attempts in a row, without a record received in between, before the stream
 *                               fails as a dead peer
 * @param initialBackoff         the wait before the first reconnect attempt; it doubles with each failed attempt
 * @param maxBackoff             the longest wait between attempts
 * @param bufferRecords          records requested from the server ahead of demand (the client-side buffer)
 * @param maxMessageBytes        the largest example accepted from the server
 * @param flowControlWindowBytes the HTTP/2 window: with the buffer, what a paused trainer lets the server send ahead
 * @param rawText                ask for raw text and tokenize in the trainer even when the server could tokenize
 */
public record GrpcClientSettings(Optional<String> bearerToken, Optional<Path> trustedCertificate, int maxAttempts,
                                 Duration initialBackoff, Duration maxBackoff, int bufferRecords, int maxMessageBytes,
                                 int flowControlWindowBytes, boolean rawText) {

    public GrpcClientSettings {
        if (maxAttempts < 0) throw new IllegalArgumentException("max reconnect attempts must be >= 0, got " + maxAttempts);
        if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("need 0 <= initial backoff (" + initialBackoff + ") <= max backoff (" + maxBackoff + ")");
        }
        if (bufferRecords < 1) throw new IllegalArgumentException("the client buffer must hold at least 1 record, got " + bufferRecords);
        if (flowControlWindowBytes < 65535) {
            throw new IllegalArgumentException("the HTTP/2 flow-control window must be at least 65535 bytes, got " + flowControlWindowBytes);
        }
    }

    /**
     * No token, JDK trust roots, 8 reconnect attempts from 200 ms doubling to 5 s (about 21 s in all), 64 records ahead,
     * 16 MiB messages, a 1 MiB window, server-side tokenization when the server offers it.
     */
    public static GrpcClientSettings defaults() {
        return new GrpcClientSettings(Optional.empty(), Optional.empty(), 8, Duration.ofMillis(200), Duration.ofSeconds(5),
                64, DatasetServerConfig.DEFAULT_MAX_MESSAGE_BYTES, 1 << 20, false);
    }

    public GrpcClientSettings withBearerToken(String token) {
        return new GrpcClientSettings(Optional.of(token), trustedCertificate, maxAttempts, initialBackoff, maxBackoff,
                bufferRecords, maxMessageBytes, flowControlWindowBytes, rawText);
    }

    public GrpcClientSettings withTrustedCertificate(Path certificate) {
        return new GrpcClientSettings(bearerToken, Optional.of(certificate), maxAttempts, initialBackoff, maxBackoff,
                bufferRecords, maxMessageBytes, flowControlWindowBytes, rawText);
    }

    public GrpcClientSettings withReconnect(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
        return new GrpcClientSettings(bearerToken, trustedCertificate, maxAttempts, initialBackoff, maxBackoff,
                bufferRecords, maxMessageBytes, flowControlWindowBytes, rawText);
    }

    public GrpcClientSettings withBuffer(int bufferRecords, int flowControlWindowBytes) {
        return new GrpcClientSettings(bearerToken, trustedCertificate, maxAttempts, initialBackoff, maxBackoff,
                bufferRecords, maxMessageBytes, flowControlWindowBytes, rawText);
    }

    public GrpcClientSettings withRawText(boolean rawText) {
        return new GrpcClientSettings(bearerToken, trustedCertificate, maxAttempts, initialBackoff, maxBackoff,
                bufferRecords, maxMessageBytes, flowControlWindowBytes, rawText);
    }

    /** The wait before reconnect attempt {@code attempt} (1-based): initial · 2^(attempt-1), at most the max. */
    Duration backoff(int attempt) {
        Duration d = initialBackoff;
        for (int i = 1; i < attempt && d.compareTo(maxBackoff) < 0; i++) d = d.multipliedBy(2);
        return d.compareTo(maxBackoff) > 0 ? maxBackoff : d;
    }
}
