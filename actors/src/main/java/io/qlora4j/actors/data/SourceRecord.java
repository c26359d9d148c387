package io.qlora4j.actors.data;

import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.data.RenderedExample;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.TokenizerException;

/**
 * One record of a dataset on its way to the trainer, in whichever form its source delivers it: rendered text (to be
 * tokenized by the trainer), tokens (tokenized by a data server), or a record that could not be used. Every form keeps
 * the record's offset, so a stream of them can be resumed exactly. This is the common currency of the local file source
 * and of the gRPC source (which converts wire messages into it); it is not a wire type.
 */
public sealed interface SourceRecord {

    /** The record's offset in its dataset. */
    long offset();

    /** Rendered text with target segments; the trainer tokenizes it. */
    record Rendered(RenderedExample example) implements SourceRecord {
        @Override
        public long offset() {
            return example.offset();
        }
    }

    /**
     * Tokens and target mask from a tokenizing server.
     *
     * @param untruncatedLength the length before truncation (the example's length when nothing was cut)
     */
    record Tokenized(TokenizedExample example, int untruncatedLength) implements SourceRecord {
        @Override
        public long offset() {
            return example.offset();
        }
    }

    /** A record that cannot be trained on; {@code error} names the file and line and what is wrong. */
    record Malformed(long offset, String error) implements SourceRecord {
    }

    /**
     * Renders a dataset record. A record that is malformed or does not fit the format becomes {@link Malformed}, so
     * the consumer applies its skip-or-fail policy in one place.
     *
     * @param file how the dataset is named in messages (a path, or the name a server publishes it under)
     */
    static SourceRecord render(DatasetRecord record, ExampleRenderer renderer, String file) {
        if (record.malformed()) return new Malformed(record.offset(), record.error());
        try {
            return new Rendered(renderer.render(record, file));
        } catch (DataException e) {
            return new Malformed(record.offset(), e.getMessage());
        }
    }

    /** Tokenizes a rendered record; other forms pass unchanged. Text the tokenizer cannot encode becomes {@link Malformed}. */
    static SourceRecord tokenize(SourceRecord record, ExampleTokenizer tokenizer, String file) {
        if (!(record instanceof Rendered(RenderedExample example))) return record;
        try {
            ExampleTokenizer.Result r = tokenizer.tokenize(example);
            return new Tokenized(r.example(), r.untruncatedLength());
        } catch (TokenizerException e) {
            return new Malformed(record.offset(), file + " record " + record.offset() + ": cannot tokenize: " + e.getMessage());
        }
    }
}
