package io.qlora4j.actors.grpc;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How {@link DatasetServer} serves a folder of datasets.
 *
 * @param dir             the folder whose .jsonl/.json/.txt files are served
 * @param bind            the address to listen on; loopback by default, so nothing is exposed unless asked
 * @param port            the TCP port; 0 picks a free one
 * @param tokenizer       when present the server tokenizes and sends ids and masks; otherwise raw text
 * @param maxLength       upper bound on tokens per example the server sends (0: only the client's max length applies)
 * @param tls             TLS identity; plaintext when absent
 * @param bearerToken     when present every call must carry {@code authorization: Bearer <token>}
 * @param maxMessageBytes the largest message either way; an example that would exceed it is sent as an error record
 * @param shutdownGrace   how long a graceful stop lets running streams finish before cancelling them
 */
public record DatasetServerConfig(Path dir, String bind, int port, Optional<ServerTokenizer> tokenizer, int maxLength,
                                  Optional<TlsFiles> tls, Optional<String> bearerToken, int maxMessageBytes,
                                  Duration shutdownGrace) {

    public static final String LOOPBACK = "127.0.0.1";
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 << 20;

    public DatasetServerConfig {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port " + port + " is outside 0..65535");
        if (maxLength < 0 || maxLength == 1) throw new IllegalArgumentException("--max-length must be 0 (no limit) or >= 2, got " + maxLength);
        if (bearerToken.isPresent() && bearerToken.get().isBlank()) throw new IllegalArgumentException("--token is empty");
        if (maxMessageBytes < 1024) throw new IllegalArgumentException("max message size " + maxMessageBytes + " bytes is below 1 KiB");
    }

    /** Plaintext on loopback, raw text, no token, 16 MiB messages, 2 s shutdown grace. */
    public static DatasetServerConfig of(Path dir, int port) {
        return new DatasetServerConfig(dir, LOOPBACK, port, Optional.empty(), 0, Optional.empty(), Optional.empty(),
                DEFAULT_MAX_MESSAGE_BYTES, Duration.ofSeconds(2));
    }

    public DatasetServerConfig withTokenizer(ServerTokenizer tokenizer) {
        return new DatasetServerConfig(dir, bind, port, Optional.of(tokenizer), maxLength, tls, bearerToken, maxMessageBytes, shutdownGrace);
    }

    public DatasetServerConfig withBind(String bind) {
        return new DatasetServerConfig(dir, bind, port, tokenizer, maxLength, tls, bearerToken, maxMessageBytes, shutdownGrace);
    }

    public DatasetServerConfig withMaxLength(int maxLength) {
        return new DatasetServerConfig(dir, bind, port, tokenizer, maxLength, tls, bearerToken, maxMessageBytes, shutdownGrace);
    }

    public DatasetServerConfig withTls(TlsFiles tls) {
        return new DatasetServerConfig(dir, bind, port, tokenizer, maxLength, Optional.of(tls), bearerToken, maxMessageBytes, shutdownGrace);
    }

    public DatasetServerConfig withBearerToken(String token) {
        return new DatasetServerConfig(dir, bind, port, tokenizer, maxLength, tls, Optional.of(token), maxMessageBytes, shutdownGrace);
    }
}
