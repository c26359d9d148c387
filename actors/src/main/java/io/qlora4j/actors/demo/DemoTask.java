package io.qlora4j.actors.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.model.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The fine-tuning data of the embedded default run: {@link DemoWorld} questions as an input-output JSONL file
 * ({@code {"input": "... Question: ... Answer:", "output": " red"}}), the format qlora.py reads from local files.
 */
public final class DemoTask {

    /** Seeds of the training questions and of the held-out questions used for the exact-match evaluation. */
    public static final long TRAIN_SEED = 7;
    public static final long EVAL_SEED = 8;

    private DemoTask() {
    }

    public static Path writeTrainingData(Path file, int count) {
        ObjectMapper json = new ObjectMapper();
        StringBuilder sb = new StringBuilder();
        for (DemoWorld.Question q : DemoWorld.questions(TRAIN_SEED, count)) {
            ObjectNode o = json.createObjectNode();
            o.put("input", q.prompt());
            o.put("output", q.answer());   // tokenized on its own, it gets the leading space of a new word
            sb.append(o).append('\n');
        }
        try {
            java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        AtomicFiles.writeString(file, sb.toString());
        return file;
    }

    public static List<DemoWorld.Question> heldOut(int count) {
        return DemoWorld.questions(EVAL_SEED, count);
    }
}
