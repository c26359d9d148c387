package io.qlora4j.actors.grpc;

import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The dataset server behind {@code serve-data}: grpc-java on Netty, serving a {@link DatasetCatalog} through the
 * qlora4j.v1 {@code DatasetService}. Listens on loopback unless told otherwise; optional TLS and bearer token; explicit
 * message-size limits; keepalive pings from clients allowed every 10 s so dead connections are noticed. Handlers run on
 * virtual threads (they read files). {@link #close()} stops gracefully: no new calls, running streams get
 * {@link DatasetServerConfig#shutdownGrace()} to finish, then are cancelled (their clients reconnect elsewhere or later).
 */
public final class DatasetServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DatasetServer.class);

    private final DatasetServerConfig config;
    private final DatasetCatalog catalog;
    private final Server server;
    private final ExecutorService executor;
    private final ServerMetrics metrics;
    private final int port;     // kept: the server cannot tell it once stopped, and messages about it still name it

    private DatasetServer(DatasetServerConfig config, DatasetCatalog catalog, Server server, ExecutorService executor, ServerMetrics metrics) {
        this.config = config;
        this.catalog = catalog;
        this.server = server;
        this.port = server.getPort();
        this.executor = executor;
        this.metrics = metrics;
    }

    /**
     * Starts serving.
     *
     * @throws io.qlora4j.model.data.DataException when the folder does not exist
     * @throws IllegalArgumentException            when the TLS files cannot be read or used
     * @throws UncheckedIOException                when the address cannot be bound (port taken, address not local)
     */
    public static DatasetServer start(DatasetServerConfig config) {
        DatasetCatalog catalog = DatasetCatalog.open(config.dir());
        ServerMetrics metrics = new ServerMetrics();
        DatasetServiceAdapter service = new DatasetServiceAdapter(catalog, config.tokenizer(), config.maxLength(), config.maxMessageBytes(), metrics);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(config.bind(), config.port()), credentials(config))
                .executor(executor)
                .maxInboundMessageSize(ExampleStreamStage.MAX_REQUEST_BYTES)
                .maxInboundMetadataSize(16 << 10)
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .addService(config.bearerToken().isPresent()
                        ? ServerInterceptors.intercept(service, new BearerTokenInterceptor(config.bearerToken().get()))
                        : service.bindService());
        Server server;
        try {
            server = builder.build().start();
        } catch (IOException e) {
            executor.shutdownNow();
            throw new UncheckedIOException("cannot listen on " + config.bind() + ":" + config.port() + ": " + e.getMessage()
                    + ": pick another --port, or a --bind address of this machine", e);
        } catch (IllegalArgumentException e) {
            executor.shutdownNow();
            throw new IllegalArgumentException("cannot use the TLS files " + config.tls().orElseThrow() + ": " + e.getMessage()
                    + ": expected a PEM certificate chain and an unencrypted PKCS#8 PEM private key", e);
        }
        if (config.bearerToken().isPresent() && config.tls().isEmpty() && !new ServerAddress(config.bind(), 1, false).isLoopback()) {
            LOG.warn("serving on {} with a bearer token but without TLS: the token crosses the network in clear text; add --tls-cert and --tls-key", config.bind());
        }
        return new DatasetServer(config, catalog, server, executor, metrics);
    }

    private static ServerCredentials credentials(DatasetServerConfig config) {
        if (config.tls().isEmpty()) return InsecureServerCredentials.create();
        TlsFiles tls = config.tls().get();
        try {
            return TlsServerCredentials.create(tls.certificateChain().toFile(), tls.privateKey().toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the TLS files (--tls-cert " + tls.certificateChain() + ", --tls-key "
                    + tls.privateKey() + "): " + e.getMessage(), e);
        }
    }

    /** The port it listens on (the chosen one when the config said 0). */
    public int port() {
        return port;
    }

    /** The address clients use: {@code grpc://bind:port} or {@code grpcs://…}. */
    public ServerAddress address() {
        return new ServerAddress(config.bind(), port(), config.tls().isPresent());
    }

    public DatasetCatalog catalog() {
        return catalog;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** Blocks until the server has stopped. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Stops at once: running streams are cancelled (their clients see the connection drop). */
    public void stopNow() {
        server.shutdownNow();
        awaitQuietly();
    }

    /** Graceful stop: refuses new calls, lets running streams finish within the grace period, then cancels them. */
    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) server.shutdownNow();
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        awaitQuietly();
    }

    private void awaitQuietly() {
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
    }
}
