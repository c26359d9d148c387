package io.qlora4j.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * One CSV row per simulated step: lengths, out of memory or not, the manager's peak and paging traffic, stall and
 * compute time, and the bytes of every component at the step's largest micro-batch ({@link StepRecord#atPeak}).
 */
public final class StepCsv {
    private StepCsv() {
    }

    public static void write(SimulationResult result, Path file) {
        List<String> lines = new ArrayList<>();
        lines.add("step,lengths,max_length,oom,peak_bytes,paged_out_bytes,paged_in_bytes,stall_ms,compute_ms,"
                + Arrays.stream(Component.values()).map(c -> c.name().toLowerCase(Locale.ROOT) + "_bytes").collect(Collectors.joining(",")));
        for (StepRecord s : result.steps()) {
            StringBuilder row = new StringBuilder();
            row.append(s.step()).append(',')
                    .append(Arrays.stream(s.lengths()).mapToObj(Integer::toString).collect(Collectors.joining(";"))).append(',')
                    .append(s.maxLength()).append(',').append(s.outOfMemory()).append(',').append(s.peakBytes()).append(',')
                    .append(s.pagedOutBytes()).append(',').append(s.pagedInBytes()).append(',')
                    .append(String.format(Locale.ROOT, "%.3f,%.3f", s.stallNanos() / 1e6, s.computeNanos() / 1e6));
            for (Component c : Component.values()) row.append(',').append(s.atPeak().getOrDefault(c, 0L));
            lines.add(row.toString());
        }
        try {
            Files.write(file, lines);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
