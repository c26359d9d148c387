package io.qlora4j.actors.grpc;

import io.qlora4j.actors.data.ExamplePreparation;
import io.qlora4j.actors.data.MalformedPolicy;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.actors.data.SourceRecord;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against a server that dies, comes back, never comes back, or faces a client that stops reading. The
 * client's HTTP/2 window is set to its minimum (64 KiB) and records are ~1 KiB, so only a small part of a dataset can
 * be in flight: the stream really is cut in the middle.
 */
class ReconnectTest {
    private static final int RECORDS = 3000;
    private static ActorTestKit testKit;

    @BeforeAll
    static void start() {
        testKit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    /** {@code records} text records of about 1 KiB; every 7th line is blank, so offsets have gaps as in real files. */
    private static List<Long> writeDataset(Path file, int records) throws IOException {
        StringBuilder sb = new StringBuilder();
        List<Long> offsets = new ArrayList<>();
        String filler = "once upon a time there was a little model that wanted to learn. ".repeat(16);
        for (int line = 0, written = 0; written < records; line++) {
            if (line % 7 == 6) {
                sb.append('\n');
                continue;
            }
            sb.append("{\"text\": \"story ").append(line).append(": ").append(filler).append("\"}\n");
            offsets.add((long) line);
            written++;
        }
        Files.writeString(file, sb);
        return offsets;
    }

    private static GrpcClientSettings smallWindow() {
        return GrpcClientSettings.defaults().withBuffer(16, 65535);
    }

    private static SinkQueueWithCancel<SourceRecord> open(DatasetServer server, GrpcClientSettings settings) {
        GrpcExampleSource source = new GrpcExampleSource(new DatasetUrl(server.address(), "stories.jsonl"), settings,
                ReadOptions.DEFAULT, new ExamplePreparation(TestData.tok512(), 64, MalformedPolicy.FAIL));
        return source.records(0).runWith(Sink.queue(), testKit.system());
    }

    private static Optional<SourceRecord> pull(SinkQueueWithCancel<SourceRecord> queue) throws Exception {
        return queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void killedAndRestartedServerLosesAndRepeatsNothing(@TempDir Path dir) throws Exception {
        List<Long> expected = writeDataset(dir.resolve("stories.jsonl"), RECORDS);
        DatasetServer first = DatasetServer.start(DatasetServerConfig.of(dir, 0));
        int port = first.port();
        SinkQueueWithCancel<SourceRecord> queue = open(first, smallWindow().withReconnect(20, Duration.ofMillis(100), Duration.ofMillis(400)));
        List<Long> received = new ArrayList<>();
        for (int i = 0; i < 500; i++) received.add(pull(queue).orElseThrow().offset());
        first.stopNow();
        Thread.sleep(1000);
        try (DatasetServer second = DatasetServer.start(DatasetServerConfig.of(dir, port))) {
            for (Optional<SourceRecord> r = pull(queue); r.isPresent(); r = pull(queue)) received.add(r.get().offset());
            assertEquals(expected, received, "every offset once, in order");
            assertEquals(1, second.metrics().streamsStarted(), "the client resumed on the new server");
            assertTrue(second.metrics().recordsSent() < RECORDS - 500, "the new server sent only the rest: " + second.metrics().recordsSent());
        }
    }

    @Test
    void aServerThatNeverComesBackFailsTheStreamAsADeadPeer(@TempDir Path dir) throws Exception {
        writeDataset(dir.resolve("stories.jsonl"), RECORDS);
        DatasetServer server = DatasetServer.start(DatasetServerConfig.of(dir, 0));
        SinkQueueWithCancel<SourceRecord> queue = open(server, smallWindow().withReconnect(3, Duration.ofMillis(50), Duration.ofMillis(200)));
        for (int i = 0; i < 100; i++) pull(queue);
        server.stopNow();
        long last = -1;
        ExecutionException failure = null;
        while (failure == null) {
            try {
                last = pull(queue).orElseThrow().offset();
            } catch (ExecutionException e) {
                failure = e;
            }
        }
        DataServiceException e = assertInstanceOf(DataServiceException.class, failure.getCause());
        assertEquals(DataServiceException.Kind.DEAD_PEER, e.kind());
        assertTrue(e.getMessage().startsWith("dead peer: the data server " + server.address() + " did not answer 3 reconnect attempts"), e.getMessage());
        assertTrue(e.getMessage().contains("; the last offset handed on was " + last + ";"), e.getMessage());
        assertTrue(e.getMessage().contains("UNAVAILABLE"), e.getMessage());
    }

    @Test
    void aPausedClientHoldsTheServerToABoundedBacklog(@TempDir Path dir) throws Exception {
        writeDataset(dir.resolve("stories.jsonl"), RECORDS);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(dir, 0))) {
            SinkQueueWithCancel<SourceRecord> queue = open(server, smallWindow());
            for (int i = 0; i < 10; i++) pull(queue);
            Thread.sleep(1000);
            long sentAfterOneSecond = server.metrics().recordsSent();
            Thread.sleep(2000);
            long sentAfterThreeSeconds = server.metrics().recordsSent();
            System.out.printf("paused client: server sent %d records, client took 10 (backlog %d of %d)%n",
                    sentAfterThreeSeconds, sentAfterThreeSeconds - 10, RECORDS);
            assertEquals(sentAfterOneSecond, sentAfterThreeSeconds, "the server stopped producing while the client is paused");
            assertTrue(sentAfterThreeSeconds - 10 <= 200, "backlog bounded by the window and buffers: " + (sentAfterThreeSeconds - 10));
            int rest = 0;
            while (pull(queue).isPresent()) rest++;
            assertEquals(RECORDS - 10, rest, "after the pause the stream goes on to the end");
        }
    }
}
