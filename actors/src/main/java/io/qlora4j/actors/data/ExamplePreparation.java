package io.qlora4j.actors.data;

import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * The last step of every data source before the trainer: {@link SourceRecord}s become {@link TokenizedExample}s for the
 * trainer's tokenizer. Rendered text is tokenized here (truncated to the max length); tokens that a server produced are
 * checked against the trainer's vocabulary; malformed records are skipped (counted, one log line each naming file and
 * line) or fail the stream, by the {@link MalformedPolicy}. It does no I/O and holds no per-stream state, so one instance
 * serves any number of streams.
 */
public final class ExamplePreparation {
    private static final Logger LOG = LoggerFactory.getLogger(ExamplePreparation.class);

    private final Tokenizer tokenizer;
    private final ExampleTokenizer exampleTokenizer;
    private final MalformedPolicy malformed;

    /**
     * @param tokenizer the trainer's tokenizer: it tokenizes raw text and bounds the token ids a server may send
     * @param maxLength examples are cut to this many tokens (the model's context or the run's max length)
     */
    public ExamplePreparation(Tokenizer tokenizer, int maxLength, MalformedPolicy malformed) {
        this.tokenizer = tokenizer;
        this.exampleTokenizer = new ExampleTokenizer(tokenizer, maxLength);
        this.malformed = malformed;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public int maxLength() {
        return exampleTokenizer.maxLength();
    }

    /**
     * The example of {@code record}, or nothing when the record is malformed and skipped.
     *
     * @param dataset how the dataset is named in errors (a path or a {@code grpc://} URL)
     * @throws DataException for a malformed record under {@link MalformedPolicy#FAIL}, or a token id outside the vocabulary
     */
    public List<TokenizedExample> prepare(SourceRecord record, String dataset, DataStats stats) {
        return switch (SourceRecord.tokenize(record, exampleTokenizer, dataset)) {
            case SourceRecord.Tokenized(TokenizedExample example, int untruncatedLength) -> {
                example.validate(tokenizer.vocabSize(), dataset);
                if (untruncatedLength > example.length()) stats.truncated();
                stats.example();
                yield List.of(example);
            }
            case SourceRecord.Malformed(long offset, String error) -> {
                if (malformed == MalformedPolicy.FAIL) {
                    throw new DataException(error + " (record " + offset + " of " + dataset
                            + "): fix or remove the record, or skip malformed records");
                }
                stats.malformedSkipped();
                LOG.warn("skipping malformed record {} of {}: {}", offset, dataset, error);
                yield List.of();
            }
            case SourceRecord.Rendered r -> throw new IllegalStateException("record " + r.offset() + " was not tokenized");
        };
    }
}
