package io.qlora4j.cli;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.infer.Perplexity;
import io.qlora4j.model.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code perplexity}: nats per token and perplexity of a text or JSONL dataset. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = {"Perplexity of a text file (records separated by <|endoftext|>) or a JSONL/JSON dataset,",
                "each record scored as BOS + text with a sliding window. The last line is",
                "nll=<nats/token> ppl=<perplexity> tokens=<n>."})
final class PerplexityCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    AdapterOption adapterOption;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Text or JSONL/JSON dataset.")
    Path data;

    @Option(names = "--format", paramLabel = "FORMAT", description = "alpaca|guanaco|chat|input-output|text (default: detected).")
    String format;

    @Option(names = "--limit", paramLabel = "N", description = "Score only the first N records.")
    Integer limit;

    @Option(names = "--window", paramLabel = "N", description = "Tokens per window (default: the model's context).")
    Integer window;

    @Option(names = "--stride", paramLabel = "N", description = "Window advance (default: half the window).")
    Integer stride;

    @Override
    public Integer call() {
        DatasetFile file = DatasetFile.open(data);
        DataFormat fmt = format != null ? DataFormat.parse(format) : file.detectFormat().orElseThrow(() ->
                new IllegalArgumentException(data + ": cannot tell the record format; pass --format"));
        ModelOptions.Loaded m = modelOptions.load();
        LlamaModel model = m.loaded().model();
        Tokenizer tok = m.tokenizer();
        ExampleRenderer renderer = new ExampleRenderer(fmt, tok.chatTemplate(), true);
        List<int[]> docs;
        try (Stream<DatasetRecord> records = file.records()) {
            docs = records.filter(r -> !r.malformed()).limit(limit == null ? Long.MAX_VALUE : limit)
                    .map(r -> tok.encode(renderer.render(r, data.toString()).text(), true)).toList();
        }
        if (docs.isEmpty()) throw new IllegalArgumentException(data + ": no records to score");
        int w = window != null ? window : model.config().contextLength();
        int s = stride != null ? stride : Math.max(1, w / 2);
        AdapterContext adapters = adapterOption.load(model);
        long start = System.nanoTime();
        Perplexity.Result r = Perplexity.evaluate(model, adapters, docs, w, s, done -> {
            if (done % 50 == 0 || done == docs.size()) System.err.printf("  scored %d/%d records%n", done, docs.size());
        });
        double seconds = (System.nanoTime() - start) * 1e-9;
        System.out.printf("%s: %d records (%s), window %d, stride %d, %.0f tokens/s%n", data.getFileName(), docs.size(),
                fmt.cliName(), w, s, r.tokens() / seconds);
        System.out.println(r.line());
        return 0;
    }
}
