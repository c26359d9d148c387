package io.qlora4j.actors.data;

import io.qlora4j.model.data.TokenizedExample;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Where a trainer's examples come from: a local file ({@link LocalExampleSource}) or a data server
 * ({@code io.qlora4j.actors.grpc.GrpcExampleSource}). A source is a recipe, not a running stream: every call gives a new
 * stream, so the {@link DataStreamer} can restart it at any offset (epochs, resuming).
 */
@FunctionalInterface
public interface ExampleSource {

    /**
     * The tokenized examples with {@code offset >= startOffset}, in increasing offset order (offsets may have gaps:
     * blank lines, skipped records, other shards), each exactly once. Pulled with backpressure: nothing is read far
     * ahead of demand.
     *
     * @param stats counts what the stream skips and truncates
     */
    Source<TokenizedExample, NotUsed> examples(long startOffset, DataStats stats);
}
