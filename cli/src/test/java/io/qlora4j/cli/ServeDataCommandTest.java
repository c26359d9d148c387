package io.qlora4j.cli;

import io.qlora4j.actors.grpc.DataServiceException;
import io.qlora4j.actors.grpc.DatasetClient;
import io.qlora4j.actors.grpc.GrpcClientSettings;
import io.qlora4j.actors.grpc.RemoteDataset;
import io.qlora4j.actors.grpc.ServerAddress;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code serve-data} as a user runs it: help, errors as one line, and a real server that stops when interrupted. */
class ServeDataCommandTest {

    @Test
    void helpDescribesTheOptions() {
        CliRun r = CliRun.run("serve-data", "--help");
        assertEquals(0, r.exitCode());
        for (String option : List.of("--dir", "--port", "--bind", "--tokenizer", "--max-length", "--tls-cert", "--tls-key", "--token")) {
            assertTrue(r.out().contains(option), option + " in " + r.out());
        }
    }

    @Test
    void aBadDirIsOneLineAndNonZeroExit(@TempDir Path tmp) {
        CliRun r = CliRun.run("serve-data", "--dir", tmp.resolve("nope").toString(), "--port", "0");
        assertEquals(1, r.exitCode());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("qlora4j serve-data: error: " + tmp.resolve("nope") + ": no such folder"), r.err());
        CliRun halfTls = CliRun.run("serve-data", "--dir", tmp.toString(), "--tls-cert", "x.pem");
        assertEquals(1, halfTls.exitCode());
        assertTrue(halfTls.err().contains("--tls-cert and --tls-key go together"), halfTls.err());
        assertFalse(halfTls.err().contains("\tat "), "no stack trace: " + halfTls.err());
    }

    @Test
    void servesTheFolderUntilInterrupted() throws Exception {
        Path dir = SharedData.require("datasets/guanaco-1k");
        Path tokenizer = SharedData.require("models/stories260K/tok512.bin");
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Thread[] runner = new Thread[1];
        CompletableFuture<CliRun> run = new CompletableFuture<>();
        runner[0] = Thread.ofPlatform().start(() -> run.complete(CliRun.run("serve-data", "--dir", dir.toString(),
                "--port", String.valueOf(port), "--tokenizer", tokenizer.toString())));
        List<RemoteDataset> listed = null;
        for (int attempt = 0; listed == null; attempt++) {
            try {
                listed = DatasetClient.listDatasets(new ServerAddress("127.0.0.1", port, false), GrpcClientSettings.defaults());
            } catch (DataServiceException notYet) {
                if (attempt > 100 || run.isDone()) throw notYet;
                Thread.sleep(100);
            }
        }
        assertEquals(2, listed.size());
        assertEquals(java.util.Optional.of("tok512.bin (vocab 512)"), listed.getFirst().tokenizerId());
        runner[0].interrupt();
        CliRun r = run.get(30, TimeUnit.SECONDS);
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("serving 2 dataset(s) from " + dir.toRealPath() + " at grpc://127.0.0.1:" + port), r.out());
        assertTrue(r.out().contains("guanaco-1k.train.guanacofmt.jsonl        guanaco           1000 records"), r.out());
        assertTrue(r.out().contains("tokenized with tok512.bin (vocab 512)"), r.out());
    }
}
