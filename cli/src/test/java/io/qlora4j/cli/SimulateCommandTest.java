package io.qlora4j.cli;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code simulate} as other checks call it: its last line, its files, its errors, and the calibration mode. */
class SimulateCommandTest {
    private static final Pattern VERDICT = Pattern.compile("verdict=(fits|fits-with-paging|does-not-fit) peak_bytes=(\\d+) paged_bytes_per_step=(\\d+)");

    private static Matcher lastLine(CliRun r) {
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().strip().split("\n");
        Matcher m = VERDICT.matcher(lines[lines.length - 1]);
        assertTrue(m.matches(), "last line: " + lines[lines.length - 1]);
        return m;
    }

    @Test
    void llama65BQLoRAFitsIn48GB(@TempDir Path out) {
        Matcher m = lastLine(CliRun.run("simulate", "--model", "65b", "--gpu", "48GB", "--seq-len", "512", "--rank", "64",
                "--quant", "nf4-dq", "--optim", "paged_adamw_32bit", "--steps", "5", "--out", out.toString()));
        assertEquals("fits", m.group(1));
        assertTrue(Long.parseLong(m.group(2)) <= 48_000_000_000L);
    }

    @Test
    void llama33BOnA24GBCardWithALongTailIsActionable(@TempDir Path out) throws Exception {
        CliRun r = CliRun.run("simulate", "--model", "33b", "--gpu", "24GB", "--seq-lengths", "lognormal:median=300,sigma=0.7,max=2048",
                "--steps", "60", "--out", out.toString());
        Matcher m = lastLine(r);
        switch (m.group(1)) {
            case "does-not-fit" -> assertTrue(r.out().contains("does not fit: needs ") && r.out().contains("try cap sequences at "), r.out());
            case "fits-with-paging" -> assertTrue(r.out().contains("paged per step") && r.out().contains("% slower"), r.out());
            default -> assertTrue(r.out().contains("fits: peak"), r.out());
        }
        byte[] png = Files.readAllBytes(out.resolve("memory.png"));
        assertTrue(png.length > 10_000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "PNG of " + png.length + " bytes");
        List<String> csv = Files.readAllLines(out.resolve("steps.csv"));
        assertEquals(61, csv.size());
        List<String> header = List.of(csv.getFirst().split(","));
        String[] row = csv.get(1).split(",");
        assertEquals(header.size(), row.length);
        long base = Long.parseLong(row[header.indexOf("base_weights_bytes")]);
        assertTrue(base > 16e9 && base < 17e9, "33B NF4+DQ base " + base);
    }

    @Test
    void sequenceLengthsFromARealDataset(@TempDir Path out) {
        Path data = SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl");
        Path tokenizer = SharedData.require("tokenizers/llama2-32k/tokenizer.model");
        CliRun r = CliRun.run("simulate", "--model", "7b", "--gpu", "rtx4090", "--seq-lengths", data.toString(),
                "--tokenizer", tokenizer.toString(), "--steps", "50", "--out", out.toString());
        lastLine(r);
        assertTrue(r.out().contains("guanaco-1k.train.guanacofmt.jsonl: 50 steps"), r.out());
    }

    @Test
    void badInputsAreOneClearLine(@TempDir Path out) {
        assertError(out, "--gpu '48 gigs' is neither a size", "--model", "7b", "--gpu", "48 gigs");
        assertError(out, "length distribution 'lognormal:median=200'", "--model", "7b", "--gpu", "48GB", "--seq-lengths", "lognormal:median=200");
        assertError(out, "neither an existing file nor a distribution", "--model", "7b", "--gpu", "48GB", "--seq-lengths", "missing.jsonl");
        assertError(out, "is neither a preset (7b, 13b, 33b, 65b, 70b)", "--model", out.resolve("nope/config.json").toString(), "--gpu", "48GB");
        assertError(out, "either --seq-len or --seq-lengths", "--model", "7b", "--gpu", "48GB", "--seq-len", "5", "--seq-lengths", "fixed:5");
        assertError(out, "beyond the model's context of 2048", "--model", "7b", "--gpu", "48GB", "--seq-len", "4096");
        assertError(out, "needs --tokenizer", "--model", "7b", "--gpu", "48GB", "--seq-lengths",
                SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl").toString());
    }

    private static void assertError(Path out, String expected, String... args) {
        String[] full = new String[args.length + 3];
        full[0] = "simulate";
        System.arraycopy(args, 0, full, 1, args.length);
        full[args.length + 1] = "--out";
        full[args.length + 2] = out.toString();
        CliRun r = CliRun.run(full);
        assertEquals(1, r.exitCode(), r.out());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void calibrationPrintsMeasuredAndSimulatedPeaksOfBothModels() {
        SharedData.require("models/stories260K/stories260K.bin");
        CliRun r = CliRun.run("simulate", "--calibrate-against");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("stories260K") && r.out().contains("stories15M-shaped"), r.out());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].startsWith("calibration=ok max_deviation="), lines[lines.length - 1]);
    }
}
