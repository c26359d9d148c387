package io.qlora4j.memory.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bench runs end to end on a small size, prints every case, and cleans up after itself. No timing assertions. */
class PagingBenchTest {
    @Test
    void printsEveryCaseAgainstTheCopyBaseline(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PagingBench.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), dir, 4L << 20, 64 * 1024, 0.01);
        String out = bytes.toString(StandardCharsets.UTF_8);
        for (String c : new String[]{"memory copy", "first write", "rewrite", "tier page-in", "manager: evict", "manager: acquire"}) {
            assertTrue(out.contains(c), "missing case '" + c + "' in:\n" + out);
        }
        try (var left = Files.list(dir)) {
            assertEquals(0, left.count(), "the bench directory is deleted");
        }
    }
}
