package io.qlora4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's main job, {@code finetune} with no model and no data, from an empty cache as on a fresh clone: it builds
 * the base model, fine-tunes it with QLoRA and shows the exact match before and after. Needs nothing outside the
 * project (about three minutes on two cores, most of it building the base).
 */
class DefaultJobTest {
    private static final Pattern EXACT_MATCH = Pattern.compile("exact match (before|after)\\s+(\\d+)% \\((\\d+)/(\\d+)\\)");

    @Test
    void finetuneWithoutArgumentsTeachesTheBaseTheTask(@TempDir Path tmp) {
        String previous = System.setProperty("qlora4j.cache", tmp.resolve("cache").toString());
        CliRun r;
        try {
            r = CliRun.run("finetune", "--out", tmp.resolve("run").toString(), "--no-progress");
        } finally {
            if (previous == null) System.clearProperty("qlora4j.cache");
            else System.setProperty("qlora4j.cache", previous);
        }
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("base model built in"), "built from an empty cache: " + r.err());
        Matcher m = EXACT_MATCH.matcher(r.out());
        assertTrue(m.find() && m.group(1).equals("before"), r.out());
        int before = Integer.parseInt(m.group(3));
        assertTrue(m.find() && m.group(1).equals("after"), r.out());
        int after = Integer.parseInt(m.group(3));
        int total = Integer.parseInt(m.group(4));
        System.out.println(r.out());
        assertTrue(before <= total / 10, "the base cannot do the task before: " + before + "/" + total);
        assertTrue(after >= total * 9 / 10, "QLoRA teaches it: " + after + "/" + total);
        assertTrue(Files.isRegularFile(tmp.resolve("run/adapter/adapter_model.safetensors")));
        assertTrue(Files.isRegularFile(tmp.resolve("run/loss.png")));
    }
}
