package io.qlora4j.actors.data;

import io.qlora4j.actors.data.DataStreamer.BatchReady;
import io.qlora4j.actors.data.DataStreamer.BatchReply;
import io.qlora4j.actors.data.DataStreamer.Command;
import io.qlora4j.actors.data.DataStreamer.DataFailed;
import io.qlora4j.actors.data.DataStreamer.EpochEnd;
import io.qlora4j.actors.data.DataStreamer.RequestBatch;
import io.qlora4j.actors.grpc.DatasetServer;
import io.qlora4j.actors.grpc.DatasetServerConfig;
import io.qlora4j.actors.grpc.DatasetUrl;
import io.qlora4j.actors.grpc.GrpcClientSettings;
import io.qlora4j.actors.grpc.GrpcExampleSource;
import io.qlora4j.actors.grpc.ServerTokenizer;
import io.qlora4j.actors.grpc.TestData;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.EvalSplit;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.Tokenizer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static io.qlora4j.actors.grpc.TestData.GUANACO;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@link DataStreamer} as a trainer drives it, under {@link ActorTestKit}: batches from a local file and from the
 * data server, exact resume, the train/eval split, demand-driven reading, and failure replies. Data: Guanaco-1k with
 * tok512, max length 128, batches of 4 in windows of 40 (10 batches per window).
 */
class DataStreamerTest {
    private static final int MAX_LENGTH = 128;
    private static final int BATCH = 4;
    private static final int WINDOW = 40;
    private static final EvalSplit SPLIT = new EvalSplit(0.1, 7);

    private static ActorTestKit testKit;
    private static Tokenizer tok512;
    private static ExamplePreparation preparation;

    @BeforeAll
    static void start() {
        testKit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    private static ExamplePreparation preparation() {
        if (preparation == null) {
            tok512 = TestData.tok512();
            preparation = new ExamplePreparation(tok512, MAX_LENGTH, MalformedPolicy.FAIL);
        }
        return preparation;
    }

    private static ExampleSource localGuanaco() {
        return LocalExampleSource.open(TestData.guanacoDir().resolve(GUANACO), ReadOptions.DEFAULT, preparation());
    }

    private static DataStreamerConfig train(ExampleSource source, int epochs) {
        return DataStreamerConfig.train(source, SPLIT, BATCH, 42, epochs, 0).withWindowExamples(WINDOW);
    }

    /** Requests batches until the streamer answers something other than a batch; returns the batches, then that answer. */
    private static List<BatchReply> drain(ActorRef<Command> streamer, int limit) {
        TestProbe<BatchReply> probe = testKit.createTestProbe(BatchReply.class);
        List<BatchReply> replies = new ArrayList<>();
        while (replies.size() < limit) {
            streamer.tell(new RequestBatch(probe.ref()));
            BatchReply reply = probe.receiveMessage(Duration.ofSeconds(30));
            replies.add(reply);
            if (!(reply instanceof BatchReady)) break;
        }
        return replies;
    }

    private static List<BatchReady> batches(List<BatchReply> replies) {
        return replies.stream().filter(r -> r instanceof BatchReady).map(r -> (BatchReady) r).toList();
    }

    private static void assertSameBatches(List<BatchReady> expected, List<BatchReady> actual) {
        assertEquals(expected.size(), actual.size(), "number of batches");
        for (int i = 0; i < expected.size(); i++) {
            Batch e = expected.get(i).batch();
            Batch a = actual.get(i).batch();
            assertArrayEquals(e.offsets(), a.offsets(), "offsets of batch " + i);
            assertArrayEquals(e.inputs(), a.inputs(), "inputs of batch " + i);
            assertArrayEquals(e.labels(), a.labels(), "labels of batch " + i);
            assertEquals(expected.get(i).resumeFrom(), actual.get(i).resumeFrom(), "position after batch " + i);
        }
    }

    private static List<Long> offsets(List<BatchReady> batches) {
        List<Long> out = new ArrayList<>();
        for (BatchReady b : batches) for (long o : b.batch().offsets()) out.add(o);
        return out;
    }

    @Test
    void batchesFromTheLocalFileEqualBatchesFromTheDataServer() {
        List<BatchReply> local = drain(testKit.spawn(DataStreamer.create(train(localGuanaco(), 1))), 10_000);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withTokenizer(new ServerTokenizer(tok512, "tok512")))) {
            ExampleSource remote = new GrpcExampleSource(new DatasetUrl(server.address(), GUANACO), GrpcClientSettings.defaults(), ReadOptions.DEFAULT, preparation());
            List<BatchReply> grpc = drain(testKit.spawn(DataStreamer.create(train(remote, 1))), 10_000);
            assertSameBatches(batches(local), batches(grpc));
            EpochEnd end = assertInstanceOf(EpochEnd.class, grpc.getLast());
            assertEquals(1, end.epochs());
            assertEquals(1000, end.stats().examples(), "the server streamed every record once");
        }
    }

    @Test
    void resumingFromAPositionReproducesTheRestOfTheRunExactly() {
        List<BatchReady> full = batches(drain(testKit.spawn(DataStreamer.create(train(localGuanaco(), 2))), 10_000));
        int perEpoch = (int) full.stream().filter(b -> b.resumeFrom().epoch() == 0).count();
        assertTrue(perEpoch > 3 * WINDOW / BATCH, "several windows per epoch: " + perEpoch);
        assertNotEquals(offsets(full.subList(0, perEpoch)), offsets(full.subList(perEpoch, full.size())), "each epoch has its own order");
        assertEquals(new HashSet<>(offsets(full.subList(0, perEpoch))), new HashSet<>(offsets(full.subList(perEpoch, full.size()))), "of the same examples");
        // mid-window, the end of a window, and the middle of the second epoch
        for (int k : new int[]{13, 19, perEpoch + 25}) {
            DataPosition position = full.get(k).resumeFrom();
            List<BatchReady> rest = batches(drain(testKit.spawn(DataStreamer.create(train(localGuanaco(), 2), position)), 10_000));
            assertSameBatches(full.subList(k + 1, full.size()), rest);
        }
        assertEquals(4, full.get(13).resumeFrom().batchesEmittedInWindow(), "batch 13 is in the middle of the second window");
    }

    @Test
    void evalAndTrainSidesAreDisjointAndCoverTheData() {
        List<Long> train = offsets(batches(drain(testKit.spawn(DataStreamer.create(train(localGuanaco(), 1))), 10_000)));
        List<BatchReply> evalReplies = drain(testKit.spawn(DataStreamer.create(DataStreamerConfig.eval(localGuanaco(), SPLIT, BATCH, 0))), 10_000);
        List<Long> eval = offsets(batches(evalReplies));
        assertInstanceOf(EpochEnd.class, evalReplies.getLast());
        assertEquals(eval.stream().sorted().toList(), eval, "evaluation is in offset order");
        assertTrue(eval.size() > 50 && eval.size() < 150, "about 10% held out: " + eval.size());
        Set<Long> both = new HashSet<>(train);
        both.retainAll(eval);
        assertEquals(Set.of(), both, "disjoint");
        List<Long> all = new ArrayList<>(train);
        all.addAll(eval);
        // cut to 128 tokens, some conversations keep no assistant token: those are dropped on both sides
        List<Long> trainable = TestData.localExamples(TestData.guanacoDir().resolve(GUANACO), DataFormat.GUANACO, tok512, MAX_LENGTH)
                .stream().filter(e -> e.targetCount() > 0).map(TokenizedExample::offset).toList();
        assertTrue(trainable.size() > 600, "most records have targets: " + trainable.size());
        assertEquals(trainable, all.stream().sorted().toList(), "together every trainable record once");
    }

    @Test
    void theStreamerReadsAboutOneWindowAheadOfDemand() throws Exception {
        AtomicLong read = new AtomicLong();
        ExampleSource guanaco = localGuanaco();
        ExampleSource counting = (start, stats) -> guanaco.examples(start, stats).map(e -> {
            read.incrementAndGet();
            return e;
        });
        ActorRef<Command> streamer = testKit.spawn(DataStreamer.create(train(counting, 1)));
        assertEquals(1, batches(drain(streamer, 1)).size());
        Thread.sleep(1000);
        System.out.printf("after one batch the streamer had read %d of 1000 examples (window %d)%n", read.get(), WINDOW);
        assertTrue(read.get() >= WINDOW, "a whole window is needed for the first batch: " + read.get());
        assertTrue(read.get() <= 2 * WINDOW + 32, "no more than about a window ahead of demand: " + read.get());
    }

    @Test
    void aMalformedRecordUnderFailIsDataFailedForEveryLaterRequest(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("bad.jsonl");
        Files.writeString(file, "{\"input\": \"2+2=\", \"output\": \"4\"}\n{\"input\": \"3+3=\"\n{\"input\": \"1+1=\", \"output\": \"2\"}\n");
        ExampleSource source = LocalExampleSource.open(file, ReadOptions.DEFAULT, preparation());
        ActorRef<Command> streamer = testKit.spawn(DataStreamer.create(DataStreamerConfig.train(source, new EvalSplit(0, 0), 1, 1, 1, 0)));
        DataFailed failed = assertInstanceOf(DataFailed.class, drain(streamer, 10).getLast());
        assertTrue(failed.reason().startsWith(file + ":2: malformed JSON"), failed.reason());
        assertEquals(List.of(failed), drain(streamer, 10), "the same answer afterwards");
    }

    @Test
    void aPositionThatDoesNotMatchTheDataIsRefused() {
        ActorRef<Command> streamer = testKit.spawn(DataStreamer.create(train(localGuanaco(), 1), new DataPosition(0, 5, 3)));
        DataFailed failed = assertInstanceOf(DataFailed.class, drain(streamer, 10).getLast());
        assertTrue(failed.reason().startsWith("cannot resume at DataPosition[epoch=0, windowStartOffset=5, batchesEmittedInWindow=3]"), failed.reason());
        assertTrue(Arrays.stream(new String[]{"dataset", "tokenizer", "batch size"}).allMatch(failed.reason()::contains), failed.reason());
    }
}
