package io.qlora4j.cli;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user runs it: help for every command, errors on stderr with a non-zero exit code. */
class CliTest {

    @Test
    void everyCommandPrintsHelp() {
        CliRun top = CliRun.run("--help");
        assertEquals(0, top.exitCode());
        for (String command : Qlora4j.newCommandLine().getSubcommands().keySet()) {
            if (command.equals("help")) continue;
            CliRun r = CliRun.run(command, "--help");
            assertEquals(0, r.exitCode(), command);
            assertTrue(r.out().contains("Usage: qlora4j " + command), command + ": " + r.out());
            assertTrue(top.out().contains(command), "top-level help lists " + command);
        }
    }

    @Test
    void usageErrorsGoToStderrWithNonZeroExit() {
        CliRun r = CliRun.run("quantize", "--model", "x");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.err().contains("Missing required option: '--out=DIR'"), r.err());
        CliRun unknown = CliRun.run("frobnicate");
        assertNotEquals(0, unknown.exitCode());
    }

    @Test
    void domainErrorsAreOneClearLine(@TempDir Path tmp) {
        CliRun r = CliRun.run("quantize", "--model", tmp.resolve("nope").toString(), "--out", tmp.resolve("o").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("no such file or folder"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        CliRun badType = CliRun.run("quantize", "--model", tmp.toString(), "--type", "nf3", "--out", tmp.resolve("o").toString());
        assertEquals(1, badType.exitCode());
        assertTrue(badType.err().contains("unknown quantization type 'nf3'"), badType.err());
    }

    @Test
    void quantizeOnStories260K(@TempDir Path tmp) {
        Path model = SharedData.require("models/stories260K-hf");
        CliRun r = CliRun.run("quantize", "--model", model.toString(), "--type", "nf4", "--double-quant", "--out", tmp.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("total") && r.out().contains("bits/param"), r.out());
        assertTrue(Files.exists(tmp.resolve("model.safetensors")) && Files.exists(tmp.resolve("config.json")));
    }
}
