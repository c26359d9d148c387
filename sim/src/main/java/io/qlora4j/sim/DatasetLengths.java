package io.qlora4j.sim;

import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The sequence lengths of a real dataset, as the trainer would see them: each record rendered in its format (detected
 * from its fields), tokenized with the model's tokenizer (BOS/EOS as the trainer adds them), truncated to the context,
 * and turned into positions (an example of n tokens trains n − 1 positions, {@code Batch.pack}). Malformed records are
 * skipped, as the trainer skips them.
 */
public final class DatasetLengths {
    private DatasetLengths() {
    }

    /** Lengths in file order. */
    public static int[] read(Path file, Tokenizer tokenizer, int contextLength) {
        if (!Files.isRegularFile(file)) throw new SimulationException("--seq-lengths file " + file + " does not exist");
        DatasetFile dataset;
        DataFormat format;
        try {
            dataset = DatasetFile.open(file);
            format = dataset.detectFormat().orElseThrow(() -> new SimulationException(file
                    + ": cannot tell the record format from the first record (expected alpaca, guanaco, chat, input-output or text fields)"));
        } catch (DataException e) {
            throw new SimulationException(file + ": " + e.getMessage(), e);
        }
        ExampleRenderer renderer = new ExampleRenderer(format, tokenizer.chatTemplate(), false);
        ExampleTokenizer examples = new ExampleTokenizer(tokenizer, contextLength + 1);
        int[] lengths;
        try (Stream<DatasetRecord> records = dataset.records()) {
            lengths = records.filter(r -> !r.malformed())
                    .mapToInt(r -> Math.max(1, examples.tokenize(renderer.render(r, file.toString())).example().length() - 1))
                    .toArray();
        } catch (DataException e) {
            throw new SimulationException(file + ": " + e.getMessage(), e);
        }
        if (lengths.length == 0) throw new SimulationException(file + ": no well-formed records");
        return lengths;
    }
}
