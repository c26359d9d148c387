package io.qlora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code eval} as a user runs it after {@code finetune}: on the run's held-out split it reproduces the run's first and
 * last {@code eval_loss} (base alone, then base + the saved adapter); MMLU-style files give an accuracy; bad input is one
 * line.
 */
class EvalCommandTest {
    private static final Pattern EVAL_LOSS = Pattern.compile("eval_loss=([0-9.]+) ppl=([0-9.]+) tokens=(\\d+) examples=(\\d+)");

    @Test
    void reproducesTheRunsHeldOutLossWithAndWithoutTheAdapter(@TempDir Path tmp) throws IOException {
        Path model = SharedData.require("models/stories260K/stories260K.bin");
        Path data = SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl");
        Path out = tmp.resolve("run");
        CliRun train = CliRun.run("finetune", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", "6", "--batch", "2", "--grad-accum", "2", "--max-len", "96", "--lora-r", "8", "--lr", "1e-3",
                "--eval-every", "6", "--save-every", "6", "--seed", "7", "--eval-split", "0.05", "--no-progress");
        assertEquals(0, train.exitCode(), train.err());
        List<JsonNode> evals = Files.readAllLines(out.resolve("metrics.jsonl")).stream().map(EvalCommandTest::json)
                .filter(m -> m.has("eval_loss")).toList();
        assertTrue(evals.size() >= 2, "an evaluation before and after training: " + evals);

        String[] heldOut = {"eval", "--model", model.toString(), "--data", data.toString(), "--split", "eval",
                "--eval-split", "0.05", "--seed", "7", "--max-len", "96"};
        Matcher base = evalLoss(CliRun.run(heldOut));
        assertEquals(evals.getFirst().get("eval_loss").asDouble(), Double.parseDouble(base.group(1)), 2e-6,
                "the base model's held-out loss, as the run measured it before training");
        String[] withAdapter = concat(heldOut, "--adapter", out.resolve("adapter").toString());
        Matcher tuned = evalLoss(CliRun.run(withAdapter));
        assertEquals(evals.getLast().get("eval_loss").asDouble(), Double.parseDouble(tuned.group(1)), 2e-6,
                "base + saved adapter gives the run's final held-out loss");
        assertEquals(Math.exp(Double.parseDouble(tuned.group(1))), Double.parseDouble(tuned.group(2)), 1e-3);
        assertTrue(Double.parseDouble(tuned.group(1)) < Double.parseDouble(base.group(1)), "the adapter lowers the loss");
    }

    @Test
    void mmluGivesAnAccuracyPerSubjectAndTheirMean() {
        Path model = SharedData.require("models/stories260K/stories260K.bin");
        Path mmlu = SharedData.require("eval/zero_shot_mmlu_val.json");
        CliRun r = CliRun.run("eval", "--model", model.toString(), "--data", mmlu.toString(), "--mmlu", "--limit", "40");
        assertEquals(0, r.exitCode(), r.err());
        Matcher m = Pattern.compile("accuracy=([0-9.]+) questions=40 subjects=(\\d+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double accuracy = Double.parseDouble(m.group(1));
        assertTrue(accuracy >= 0 && accuracy <= 1, r.out());
        assertTrue(r.out().contains("abstract_algebra"), r.out());
    }

    @Test
    void badInputIsOneClearLine(@TempDir Path tmp) throws IOException {
        Path model = SharedData.require("models/stories260K/stories260K.bin");
        Path empty = Files.writeString(tmp.resolve("empty.jsonl"), "\n");
        CliRun r = CliRun.run("eval", "--model", model.toString(), "--data", empty.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("empty.jsonl") && !r.err().contains("\tat "), r.err());
        Path notMmlu = Files.writeString(tmp.resolve("q.json"), "{\"question\": \"?\"}\n");
        CliRun q = CliRun.run("eval", "--model", model.toString(), "--data", notMmlu.toString(), "--mmlu");
        assertEquals(1, q.exitCode());
        assertTrue(q.err().contains("q.json:1") && q.err().contains("'input'"), q.err());
    }

    private static Matcher evalLoss(CliRun r) {
        assertEquals(0, r.exitCode(), r.err());
        Matcher m = EVAL_LOSS.matcher(r.out());
        assertTrue(m.find(), r.out());
        return m;
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static JsonNode json(String line) {
        try {
            return new ObjectMapper().readTree(line);
        } catch (IOException e) {
            throw new AssertionError(line, e);
        }
    }
}
