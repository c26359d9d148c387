package io.qlora4j.cli;

import io.qlora4j.actors.grpc.DatasetDescription;
import io.qlora4j.actors.grpc.DatasetServer;
import io.qlora4j.actors.grpc.DatasetServerConfig;
import io.qlora4j.actors.grpc.ServerTokenizer;
import io.qlora4j.actors.grpc.TlsFiles;
import io.qlora4j.model.data.DataFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code serve-data}: serves a folder of datasets over gRPC so trainers stream examples instead of copying files. Prints
 * what it serves, then runs until interrupted; Ctrl-C stops it gracefully (running streams get a moment to finish,
 * then their trainers reconnect to a restarted server and resume where they were).
 */
@Command(name = "serve-data", mixinStandardHelpOptions = true,
        description = {"Serve the .jsonl/.json/.txt datasets of a folder over gRPC (qlora4j.v1 DatasetService).",
                "Trainers read them with --data grpc://HOST:PORT/NAME. Runs until Ctrl-C."})
final class ServeDataCommand implements Callable<Integer> {

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Folder whose dataset files are served (subfolders too).")
    Path dir;

    @Option(names = "--port", defaultValue = "7070", paramLabel = "PORT", description = "TCP port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--bind", defaultValue = DatasetServerConfig.LOOPBACK, paramLabel = "ADDRESS",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every interface).")
    String bind;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "Tokenize on the server with this tokenizer (the model's); without it the server sends text and trainers tokenize.")
    Path tokenizer;

    @Option(names = "--max-length", defaultValue = "0", paramLabel = "N",
            description = "Cut examples to at most N tokens whatever the trainer asks (default: 0, the trainer's limit only).")
    int maxLength;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain: serve TLS (grpcs://). Needs --tls-key.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Unencrypted PKCS#8 PEM private key of --tls-cert.")
    Path tlsKey;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Require 'authorization: Bearer TOKEN' on every call (use with TLS off this machine).")
    String token;

    @Override
    public Integer call() throws InterruptedException {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together: give both, or neither for plaintext");
        }
        DatasetServerConfig config = new DatasetServerConfig(dir, bind, port, Optional.ofNullable(tokenizer).map(ServerTokenizer::load),
                maxLength, Optional.ofNullable(tlsCert).map(cert -> new TlsFiles(cert, tlsKey)), Optional.ofNullable(token),
                DatasetServerConfig.DEFAULT_MAX_MESSAGE_BYTES, Duration.ofSeconds(2));
        DatasetServer server = DatasetServer.start(config);
        Thread stopper = new Thread(() -> {
            System.err.printf("serve-data: stopping (running streams get %d s to finish)%n", config.shutdownGrace().toSeconds());
            server.close();
        }, "serve-data-shutdown");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            printServing(server, config);
            server.awaitTermination();
        } catch (InterruptedException e) {
            server.close();
        } finally {
            removeHook(stopper);
        }
        return 0;
    }

    private static void printServing(DatasetServer server, DatasetServerConfig config) {
        var datasets = server.catalog().list();
        System.out.printf("serving %d dataset(s) from %s at %s (%s%s; %s)%n", datasets.size(), server.catalog().root(), server.address(),
                config.tls().isPresent() ? "TLS" : "plaintext", config.bearerToken().isPresent() ? ", bearer token required" : "",
                config.tokenizer().map(t -> "tokenized with " + t.id()).orElse("raw text, trainers tokenize"));
        int width = datasets.stream().mapToInt(d -> d.name().length()).max().orElse(4);
        for (DatasetDescription d : datasets) {
            System.out.printf("  %-" + width + "s  %-12s %9d records  %8.1f KiB%s%n", d.name(), d.format().map(DataFormat::cliName).orElse("?"),
                    d.records(), d.sizeBytes() / 1024.0, d.problem().map(p -> "  (" + p + ")").orElse(""));
        }
        System.out.printf("trainers: --data %s/NAME; Ctrl-C stops%n", server.address());
        System.out.flush();
    }

    /** A hook of a command that ended normally must not stay registered (the in-process tests run many commands). */
    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the JVM is already running the hook: nothing to remove
        }
    }
}
