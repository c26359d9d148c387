package io.qlora4j.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the real data of {@code ../shared/data} (checkpoints, tokenizers, datasets, golden files) for tests.
 * The folder comes from the system property {@code qlora4j.shared} (set by the build to the checkout's {@code ../shared});
 * a test that needs a file which is absent is skipped with a message naming the file, never failed.
 */
public final class SharedData {
    private SharedData() {
    }

    /** The {@code data} folder of the shared tree (may not exist). */
    public static Path root() {
        String shared = System.getProperty("qlora4j.shared", "../../shared");
        return Path.of(shared).toAbsolutePath().normalize().resolve("data");
    }

    /** A file or folder under {@code ../shared/data}; skips the calling test when it is absent. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), () -> "skipped: needs " + p + " (../shared/data is not beside this checkout)");
        return p;
    }
}
