package io.qlora4j.actors.grpc;

import io.qlora4j.actors.data.DataStats;
import io.qlora4j.actors.data.ExamplePreparation;
import io.qlora4j.actors.data.ExampleSource;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.actors.data.SourceRecord;
import io.qlora4j.model.data.TokenizedExample;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Examples streamed from a data server ({@code grpc://host:port/dataset}): the server's records, reconnecting and
 * resuming without loss or repetition when the server goes away ({@link ExampleStreamStage}), then tokenized with the
 * trainer's tokenizer when the server sent raw text, or checked against its vocabulary when the server sent ids
 * ({@link ExamplePreparation}). The server truncates to the same max length the trainer uses.
 */
public final class GrpcExampleSource implements ExampleSource {

    private final DatasetUrl url;
    private final GrpcClientSettings settings;
    private final ReadOptions options;
    private final ExamplePreparation preparation;

    public GrpcExampleSource(DatasetUrl url, GrpcClientSettings settings, ReadOptions options, ExamplePreparation preparation) {
        this.url = url;
        this.settings = settings;
        this.options = options;
        this.preparation = preparation;
    }

    /** The records as the server sends them (before tokenization and the malformed-record policy). */
    public Source<SourceRecord, NotUsed> records(long startOffset) {
        return Source.fromGraph(new ExampleStreamStage(url, settings, options, preparation.maxLength(), startOffset));
    }

    @Override
    public Source<TokenizedExample, NotUsed> examples(long startOffset, DataStats stats) {
        String name = url.toString();
        return records(startOffset).mapConcat(r -> preparation.prepare(r, name, stats));
    }

    @Override
    public String toString() {
        return url + (options.shard().count() > 1 ? " (shard " + options.shard().index() + "/" + options.shard().count() + ")" : "");
    }
}
