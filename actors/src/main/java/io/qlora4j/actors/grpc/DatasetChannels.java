package io.qlora4j.actors.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * Opens the channel a client uses to reach a data server: TLS or plaintext by the address, the bearer token as a
 * header on every call, the message and flow-control limits of the settings, and keepalive pings (every 30 s, answered
 * within 10 s) so a peer that vanished without closing the connection is noticed.
 */
final class DatasetChannels {
    private static final Logger LOG = LoggerFactory.getLogger(DatasetChannels.class);

    private DatasetChannels() {
    }

    static ManagedChannel open(ServerAddress server, GrpcClientSettings settings) {
        NettyChannelBuilder builder = NettyChannelBuilder.forAddress(server.host(), server.port(), credentials(server, settings))
                .maxInboundMessageSize(settings.maxMessageBytes())
                .flowControlWindow(settings.flowControlWindowBytes())
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS);
        if (settings.bearerToken().isPresent()) {
            if (!server.tls() && !server.isLoopback()) {
                LOG.warn("sending a bearer token to {} without TLS: it crosses the network in clear text; use grpcs://", server);
            }
            Metadata headers = new Metadata();
            headers.put(BearerTokenInterceptor.AUTHORIZATION, BearerTokenInterceptor.PREFIX + settings.bearerToken().get());
            builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return builder.build();
    }

    private static ChannelCredentials credentials(ServerAddress server, GrpcClientSettings settings) {
        if (!server.tls()) return InsecureChannelCredentials.create();
        if (settings.trustedCertificate().isEmpty()) return TlsChannelCredentials.create();
        try {
            return TlsChannelCredentials.newBuilder().trustManager(settings.trustedCertificate().get().toFile()).build();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the trusted certificate " + settings.trustedCertificate().get()
                    + ": " + e.getMessage() + ": expected a PEM certificate", e);
        }
    }
}
