package io.qlora4j.actors.grpc;

import java.nio.file.Path;

/**
 * A server's TLS identity as PEM files.
 *
 * @param certificateChain the certificate chain, leaf first
 * @param privateKey       the private key, PKCS#8 PEM, unencrypted
 */
public record TlsFiles(Path certificateChain, Path privateKey) {
}
