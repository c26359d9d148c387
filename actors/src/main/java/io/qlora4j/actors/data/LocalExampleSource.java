package io.qlora4j.actors.data;

import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.ChatTemplate;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamConverters;

import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Examples read from a dataset file on this machine: {@link DatasetFile} → {@link ExampleRenderer} →
 * {@link ExamplePreparation}. The file is read lazily, record by record as the stream is pulled, on Pekko's blocking-I/O
 * dispatcher behind an asynchronous boundary that reads at most {@value #READ_AHEAD} examples ahead of demand. Opening
 * validates the file and its format once, at the boundary; streaming does not re-check them.
 */
public final class LocalExampleSource implements ExampleSource {

    /** Examples read and tokenized ahead of demand, so the trainer rarely waits for the file. */
    static final int READ_AHEAD = 16;

    private final DatasetFile file;
    private final ExampleRenderer renderer;
    private final Shard shard;
    private final ExamplePreparation preparation;

    private LocalExampleSource(DatasetFile file, ExampleRenderer renderer, Shard shard, ExamplePreparation preparation) {
        this.file = file;
        this.renderer = renderer;
        this.shard = shard;
        this.preparation = preparation;
    }

    /**
     * Opens {@code path} (blocking: call it when setting up a run, not inside an actor).
     *
     * @throws DataException when the file is missing or empty, or its format cannot be told and none is given
     */
    public static LocalExampleSource open(Path path, ReadOptions options, ExamplePreparation preparation) {
        DatasetFile file = DatasetFile.open(path);
        DataFormat format = options.format().or(file::detectFormat).orElseThrow(() -> new DataException(path
                + ": cannot tell the record format from the first record (known: alpaca, guanaco, chat, input-output, text):"
                + " pass the format explicitly"));
        Optional<ChatTemplate> template = format == DataFormat.CHAT
                ? preparation.tokenizer().chatTemplate() : Optional.empty();
        return new LocalExampleSource(file, new ExampleRenderer(format, template, options.trainOnSource()), options.shard(), preparation);
    }

    public DataFormat format() {
        return renderer.format();
    }

    @Override
    public Source<TokenizedExample, NotUsed> examples(long startOffset, DataStats stats) {
        String name = file.path().toString();
        return StreamConverters.fromJavaStream(() -> records(startOffset))
                .map(r -> SourceRecord.render(r, renderer, name))
                .mapConcat(r -> preparation.prepare(r, name, stats))
                .async(ActorAttributes.IODispatcher().dispatcher(), READ_AHEAD);
    }

    private Stream<DatasetRecord> records(long startOffset) {
        return file.records(startOffset, shard.index(), shard.count());
    }

    @Override
    public String toString() {
        return file.path() + " (" + renderer.format().cliName() + (shard.count() > 1 ? ", shard " + shard.index() + "/" + shard.count() : "") + ")";
    }
}
