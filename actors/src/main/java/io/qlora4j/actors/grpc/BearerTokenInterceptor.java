package io.qlora4j.actors.grpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Admits a call only when it carries {@code authorization: Bearer <token>} with the server's token; answers
 * {@code UNAUTHENTICATED} otherwise. The comparison is of SHA-256 digests with {@link MessageDigest#isEqual}, which
 * takes the same time whatever the bytes, so neither the token's content nor its length leaks through timing.
 * It authenticates, it does not encrypt: off loopback, use it with TLS.
 */
final class BearerTokenInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final String PREFIX = "Bearer ";

    private final byte[] expectedDigest;

    BearerTokenInterceptor(String token) {
        this.expectedDigest = sha256(token);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String header = headers.get(AUTHORIZATION);
        String refusal;
        if (header == null) {
            refusal = "this data server requires a bearer token: give the client the token serve-data was started with (--token)";
        } else if (!header.startsWith(PREFIX)) {
            refusal = "the authorization header is not of the form 'Bearer <token>'";
        } else if (!MessageDigest.isEqual(sha256(header.substring(PREFIX.length())), expectedDigest)) {
            refusal = "wrong bearer token: use the token serve-data was started with (--token)";
        } else {
            return next.startCall(call, headers);
        }
        call.close(Status.UNAUTHENTICATED.withDescription(refusal), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
