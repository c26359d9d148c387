package io.qlora4j.actors.grpc;

import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Shared test data and oracles of the data-service tests: the real Guanaco-1k dataset and tok512 from ../shared/data. */
public final class TestData {
    public static final String GUANACO = "guanaco-1k.train.guanacofmt.jsonl";

    private TestData() {
    }

    public static Path guanacoDir() {
        return SharedData.require("datasets/guanaco-1k");
    }

    public static Tokenizer tok512() {
        return Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
    }

    /** The oracle: the model module's pipeline run directly on the file, malformed records left out. */
    public static List<TokenizedExample> localExamples(Path file, DataFormat format, Tokenizer tokenizer, int maxLength) {
        ExampleRenderer renderer = new ExampleRenderer(format, Optional.empty(), false);
        ExampleTokenizer exampleTokenizer = new ExampleTokenizer(tokenizer, maxLength);
        try (Stream<DatasetRecord> records = DatasetFile.open(file).records()) {
            return records.filter(r -> !r.malformed()).map(r -> exampleTokenizer.tokenize(renderer.render(r, file.toString())).example()).toList();
        }
    }

    public static void assertSameExamples(List<TokenizedExample> expected, List<TokenizedExample> actual) {
        assertEquals(expected.size(), actual.size(), "number of examples");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).offset(), actual.get(i).offset(), "offset of example " + i);
            assertArrayEquals(expected.get(i).tokens(), actual.get(i).tokens(), "tokens at offset " + expected.get(i).offset());
            assertArrayEquals(expected.get(i).targets(), actual.get(i).targets(), "targets at offset " + expected.get(i).offset());
        }
    }

    public static <T> List<T> collect(Source<T, ?> source, ClassicActorSystemProvider system) throws Exception {
        return source.runWith(Sink.seq(), system).toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
}
