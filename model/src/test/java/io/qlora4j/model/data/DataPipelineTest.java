package io.qlora4j.model.data;

import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Records → rendered text with targets → tokens and mask → padded batches, on the real datasets in ../shared/data. */
class DataPipelineTest {

    private static Tokenizer tok512() {
        return Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
    }

    @Test
    void guanacoTargetsAreTheAssistantTurnsAndTheTextIsUnchanged() {
        Path file = SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl");
        DatasetFile ds = DatasetFile.open(file);
        assertEquals(Optional.of(DataFormat.GUANACO), ds.detectFormat());
        ExampleRenderer renderer = new ExampleRenderer(DataFormat.GUANACO, Optional.empty(), false);
        try (Stream<DatasetRecord> records = ds.records()) {
            records.limit(50).forEach(r -> {
                RenderedExample e = renderer.render(r, file.toString());
                assertEquals(r.json().get("text").asText(), e.text(), "rendering keeps the text exactly");
                for (RenderedExample.Segment s : e.segments()) {
                    if (s.target()) assertFalse(s.text().contains("### Human:"), "a target never holds a human turn");
                }
            });
        }
        assertEquals(1000, ds.countRecords());
    }

    @Test
    void alpacaTokensFollowQloraPy() {
        Path file = SharedData.require("datasets/alpaca/alpaca_small_2000.json");
        DatasetFile ds = DatasetFile.open(file);
        assertEquals(DatasetFile.Kind.JSON_ARRAY, ds.kind());
        assertEquals(Optional.of(DataFormat.ALPACA), ds.detectFormat());
        Tokenizer tok = tok512();
        ExampleRenderer renderer = new ExampleRenderer(DataFormat.ALPACA, Optional.empty(), false);
        ExampleTokenizer tokenizer = new ExampleTokenizer(tok, 100_000);
        DatasetRecord first;
        try (Stream<DatasetRecord> s = ds.records()) {
            first = s.findFirst().orElseThrow();
        }
        RenderedExample e = renderer.render(first, file.toString());
        assertTrue(e.text().startsWith("Below is an instruction that describes a task, paired with an input"));
        assertTrue(e.segments().get(0).text().endsWith("### Response: "), "qlora.py's prompt ends with a space");
        TokenizedExample t = tokenizer.tokenize(e).example();
        // BOS + source tokens (not targets) + output tokens + EOS (targets): source and target tokenized separately
        int[] source = tok.encode(e.segments().get(0).text(), false);
        int[] target = tok.encode("no", false);
        assertEquals(1 + source.length + target.length + 1, t.length());
        assertEquals(tok.bosId(), t.tokens()[0]);
        assertEquals(tok.eosId(), t.tokens()[t.length() - 1]);
        for (int i = 0; i < t.length(); i++) assertEquals(i > source.length, t.targets()[i], "position " + i);
        assertEquals(target.length + 1, t.targetCount());
    }

    @Test
    void tinyStoriesTextRecords() {
        DatasetFile ds = DatasetFile.open(SharedData.require("datasets/tinystories/tinystories_train_head_2MiB.txt"));
        assertEquals(DatasetFile.Kind.TEXT, ds.kind());
        long n = ds.countRecords();
        assertTrue(n > 2000 && n < 2400, "stories: " + n);
        try (Stream<DatasetRecord> s = ds.records()) {
            assertTrue(s.findFirst().orElseThrow().text().startsWith("One day, a little girl named Lily"));
        }
    }

    @Test
    void shardsAndOffsetsPartitionTheFile() {
        DatasetFile ds = DatasetFile.open(SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl"));
        long[] all;
        try (Stream<DatasetRecord> s = ds.records()) {
            all = s.mapToLong(DatasetRecord::offset).toArray();
        }
        long total = 0;
        for (int shard = 0; shard < 3; shard++) {
            try (Stream<DatasetRecord> s = ds.records(0, shard, 3)) {
                int sh = shard;
                total += s.peek(r -> assertEquals(sh, r.offset() % 3)).count();
            }
        }
        assertEquals(all.length, total);
        try (Stream<DatasetRecord> s = ds.records(990, 0, 1)) {
            assertArrayEquals(java.util.Arrays.copyOfRange(all, 990, 1000), s.mapToLong(DatasetRecord::offset).toArray());
        }
    }

    @Test
    void malformedLinesAreReportedWithFileAndLine(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("bad.jsonl");
        Files.writeString(f, "{\"text\": \"### Human: hi### Assistant: hello\"}\n{oops\n\n[1,2]\n{\"text\": \"### Human: a### Assistant: b\"}\n");
        List<DatasetRecord> records;
        try (Stream<DatasetRecord> s = DatasetFile.open(f).records()) {
            records = s.toList();
        }
        assertEquals(4, records.size());
        assertTrue(records.get(1).malformed() && records.get(1).error().contains("bad.jsonl:2: malformed JSON"), records.get(1).error());
        assertTrue(records.get(2).error().contains("bad.jsonl:4: a record must be a JSON object"));
        assertEquals(4, records.get(3).offset(), "offsets are line indexes: blank lines keep theirs");
        ExampleRenderer r = new ExampleRenderer(DataFormat.GUANACO, Optional.empty(), false);
        DataException e = assertThrows(DataException.class, () -> r.render(records.get(1), f.toString()));
        assertTrue(e.getMessage().contains("bad.jsonl:2"));
    }

    @Test
    void emptyAndMissingDatasetsAreClearErrors(@TempDir Path tmp) throws IOException {
        Path empty = tmp.resolve("empty.jsonl");
        Files.writeString(empty, "\n  \n");
        assertTrue(assertThrows(DataException.class, () -> DatasetFile.open(empty)).getMessage().contains("empty"));
        assertTrue(assertThrows(DataException.class, () -> DatasetFile.open(tmp.resolve("nope.jsonl"))).getMessage().contains("no such dataset"));
        Path noField = tmp.resolve("a.jsonl");
        Files.writeString(noField, "{\"instruction\": \"x\", \"output\": 3}\n");
        ExampleRenderer r = new ExampleRenderer(DataFormat.ALPACA, Optional.empty(), false);
        DatasetRecord rec;
        try (Stream<DatasetRecord> s = DatasetFile.open(noField).records()) {
            rec = s.findFirst().orElseThrow();
        }
        assertTrue(assertThrows(DataException.class, () -> r.render(rec, "a.jsonl")).getMessage().contains("a.jsonl:1: field 'output' must be a string"));
        assertThrows(DataException.class, () -> new ExampleRenderer(DataFormat.CHAT, Optional.empty(), false));
    }

    @Test
    void batchesShiftLabelsAndPad() {
        TokenizedExample a = new TokenizedExample(7, new int[]{1, 10, 11, 12}, new boolean[]{false, false, true, true});
        TokenizedExample b = new TokenizedExample(9, new int[]{1, 20}, new boolean[]{false, true});
        Batch batch = Batch.pack(List.of(a, b), 0);
        assertEquals(3, batch.seqLen());
        assertArrayEquals(new int[]{1, 10, 11, 1, 0, 0}, batch.inputs());
        assertArrayEquals(new int[]{-100, 11, 12, 20, -100, -100}, batch.labels());
        assertEquals(3, batch.targetTokens());
        assertArrayEquals(new long[]{7, 9}, batch.offsets());
    }

    @Test
    void lengthGroupingPutsSimilarLengthsTogether() {
        List<Integer> lengths = List.of(5, 100, 7, 98, 6, 99);
        List<List<Integer>> batches = LengthGrouping.batches(lengths, Integer::intValue, 2);
        assertEquals(List.of(List.of(100, 99), List.of(98, 7), List.of(6, 5)), batches);
    }

    @Test
    void evalSplitIsDeterministicAndAboutTheFraction() {
        EvalSplit split = new EvalSplit(0.1, 42);
        long held = java.util.stream.LongStream.range(0, 10_000).filter(split::isEval).count();
        assertTrue(held > 900 && held < 1100, "held out " + held);
        assertEquals(split.isEval(1234), new EvalSplit(0.1, 42).isEval(1234));
    }

    @Test
    void outOfVocabularyIdsAreRejected() {
        TokenizedExample e = new TokenizedExample(3, new int[]{1, 600}, new boolean[]{false, true});
        DataException ex = assertThrows(DataException.class, () -> e.validate(512, "grpc://x/y"));
        assertTrue(ex.getMessage().contains("token id 600") && ex.getMessage().contains("[0, 512)"), ex.getMessage());
    }
}
