package io.qlora4j.actors.train;

import java.nio.file.Path;

/** A child JVM that runs the test's fine-tuning run, to be killed with SIGKILL by {@link FinetuneJobTest}. */
public final class FinetuneProcess {
    private FinetuneProcess() {
    }

    public static void main(String[] args) {
        Runs.run(Runs.flags(args[0], Path.of(args[1])));
    }
}
