package io.qlora4j.model.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test folders. */
public final class TestDirs {
    private TestDirs() {
    }

    /**
     * Creates {@code java.io.tmpdir} if it is missing: the build points it at {@code target/tmp} without creating it,
     * and JUnit's {@code @TempDir} then fails. Call from {@code @BeforeAll}.
     */
    public static void ensureTmpDir() throws IOException {
        Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
    }
}
