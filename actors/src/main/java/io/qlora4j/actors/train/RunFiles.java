package io.qlora4j.actors.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The line-oriented logs of a run folder: {@code metrics.jsonl} (one JSON object per step and per evaluation),
 * {@code paging.jsonl} (the memory manager's statistics per step) and {@code offsets.jsonl} (the dataset offsets each
 * step trained on: the ledger that shows no example was lost or repeated). Every line carries a {@code step}; resuming
 * from a checkpoint first drops the lines written after it, so a resumed run's logs read as an uninterrupted run's.
 */
final class RunFiles implements AutoCloseable {

    static final String METRICS = "metrics.jsonl";
    static final String PAGING = "paging.jsonl";
    static final String OFFSETS = "offsets.jsonl";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private BufferedWriter metrics;
    private BufferedWriter paging;
    private BufferedWriter offsets;
    private long metricsLines;

    /** Opens the logs for appending, first cutting every line of a step after {@code resumedStep}. */
    RunFiles(Path dir, int resumedStep) {
        this.dir = dir;
        openAt(resumedStep);
    }

    /** Cuts every line of a step after {@code step} (a restart from that step's checkpoint) and reopens the logs. */
    void rewindTo(int step) {
        close();
        openAt(step);
    }

    private void openAt(int step) {
        try {
            for (String f : List.of(METRICS, PAGING, OFFSETS)) truncateAfter(dir.resolve(f), step);
            metricsLines = Files.exists(dir.resolve(METRICS)) ? Files.readAllLines(dir.resolve(METRICS)).size() : 0;
            metrics = open(METRICS);
            paging = open(PAGING);
            offsets = open(OFFSETS);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the logs of " + dir + ": " + e.getMessage(), e);
        }
    }

    void metrics(String json) {
        append(metrics, json);
        metricsLines++;
    }

    void paging(String json) {
        append(paging, json);
    }

    void offsets(String json) {
        append(offsets, json);
    }

    long metricsLines() {
        return metricsLines;
    }

    /** Every line of metrics.jsonl (for the loss plot). */
    List<JsonNode> readMetrics() {
        List<JsonNode> out = new ArrayList<>();
        try {
            metrics.flush();
            for (String line : Files.readAllLines(dir.resolve(METRICS))) if (!line.isBlank()) out.add(JSON.readTree(line));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private BufferedWriter open(String name) throws IOException {
        return Files.newBufferedWriter(dir.resolve(name), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    private static void append(BufferedWriter w, String line) {
        try {
            w.write(line);
            w.write('\n');
            w.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to a run log: " + e.getMessage(), e);
        }
    }

    /** Keeps the lines whose step is at most {@code step} (an unparsable last line of a killed run is dropped too). */
    private static void truncateAfter(Path file, int step) throws IOException {
        if (!Files.exists(file)) return;
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            try {
                JsonNode n = JSON.readTree(line);
                if (n != null && n.path("step").asInt(Integer.MAX_VALUE) <= step) kept.add(line);
            } catch (IOException torn) {
                // a line cut by a kill: not kept
            }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        try {
            metrics.close();
            paging.close();
            offsets.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
