package io.qlora4j.actors.data;

import io.qlora4j.model.data.DataFormat;

import java.util.Optional;

/**
 * How a dataset is read, the same for a local file and a data server: its record format (guessed from the first record
 * when absent), whether prompts are trained on too, and which shard of the records.
 *
 * @param trainOnSource every token is a target (qlora.py {@code --train_on_source}); default: completions only
 */
public record ReadOptions(Optional<DataFormat> format, boolean trainOnSource, Shard shard) {

    /** Guessed format, completions only, the whole dataset. */
    public static final ReadOptions DEFAULT = new ReadOptions(Optional.empty(), false, Shard.ALL);

    public ReadOptions withFormat(DataFormat format) {
        return new ReadOptions(Optional.of(format), trainOnSource, shard);
    }

    public ReadOptions withShard(Shard shard) {
        return new ReadOptions(format, trainOnSource, shard);
    }
}
