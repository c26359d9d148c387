package io.qlora4j.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.actors.train.FinetuneConfig;
import io.qlora4j.actors.train.FinetuneJob;
import io.qlora4j.actors.train.FinetuneSummary;
import io.qlora4j.actors.train.TrainingFailedException;
import io.qlora4j.actors.train.TrainingListener;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The paging issue's spike test on the real trainer ({@code finetune}): stories260K, a dataset whose lengths have a long
 * tail (most examples a sentence, every eighth a story at the context limit), and the {@link SpikeScenario}'s device
 * budget, which holds a short step with the optimizer state resident but not a long one. Without paging the run stops
 * at the first long step with the out-of-memory message, and its last checkpoint resumes to the right result; with
 * paging it completes, and its adapter is bit-identical to a run with an unlimited budget.
 */
class SpikeFinetuneTest {

    private static final int STEPS = 20;
    private static final int WINDOW = 8;

    @Test
    void pagingSurvivesTheSpikeAndChangesNothing(@TempDir Path tmp) throws IOException {
        Path model = SharedData.require("models/stories260K/stories260K.bin");
        Path data = longTailData(SharedData.require("datasets/tinystories/tinystories_train_head_2MiB.txt"), tmp.resolve("spiky.jsonl"));
        LlamaConfig config;
        try (ModelFiles files = ModelFiles.open(model)) {
            config = files.config();
        }
        TrainingSetup setup = TrainingSetup.qlora("stories260K", config, Profile.QLORA4J_CPU)
                .withLora(8, EnumSet.allOf(LinearLayerName.class));
        long budget = SpikeScenario.of(setup).deviceBudgetBytes();

        FinetuneSummary unlimited = run(model, data, tmp.resolve("unlimited"), null, true, false);
        assertEquals(STEPS, unlimited.steps());

        TrainingFailedException oom = assertThrows(TrainingFailedException.class,
                () -> run(model, data, tmp.resolve("no-paging"), budget, false, false));
        assertTrue(oom.getMessage().contains("out of device memory") && oom.getMessage().contains("paging is off"), oom.getMessage());
        assertTrue(oom.getMessage().contains("step " + (WINDOW + 1)), "the first long step is step " + (WINDOW + 1) + ": " + oom.getMessage());
        // nothing corrupt: the run's last checkpoint (step 8) resumes, with paging now on, to the same final adapter
        FinetuneSummary resumed = run(model, data, tmp.resolve("no-paging"), budget, true, true);
        assertEquals(WINDOW, resumed.firstStep());
        assertArrayEquals(adapterBytes(unlimited), adapterBytes(resumed));

        FinetuneSummary paged = run(model, data, tmp.resolve("paging"), budget, true, false);
        assertArrayEquals(adapterBytes(unlimited), adapterBytes(paged), "paging must not change a single bit of training");
        assertTrue(paged.pagedBytes() > 0, "optimizer pages moved at the spikes");
        String pagingLog = Files.readString(tmp.resolve("paging/paging.jsonl"));
        assertTrue(pagingLog.contains("\"step\":" + (WINDOW + 1) + ","), pagingLog);
        System.out.printf("spike budget %,d bytes: without paging OOM at step %d; with paging %d steps, %,d bytes paged, peak %,d%n",
                budget, WINDOW + 1, paged.steps(), paged.pagedBytes(), paged.peakDeviceBytes());
    }

    private static FinetuneSummary run(Path model, Path data, Path out, Long budget, boolean paging, boolean resume) {
        Map<String, Object> flags = new LinkedHashMap<>();
        flags.put("model", model.toString());
        flags.put("data", data.toString());
        flags.put("format", "text");
        flags.put("out", out.toString());
        flags.put("steps", STEPS);
        flags.put("batch", 1);
        flags.put("grad-accum", 1);
        flags.put("max-len", 512);
        flags.put("shuffle-window", WINDOW);
        flags.put("eval-split", 0.0);
        flags.put("save-every", 4);
        flags.put("lora.r", 8);
        flags.put("lora.dropout", 0.0);
        flags.put("optim.lr", 1e-3);
        if (budget != null) flags.put("memory.device", budget);
        flags.put("memory.paging", paging);
        FinetuneConfig config = FinetuneConfig.load(Optional.empty(), flags);
        return FinetuneJob.run(config, FinetuneConfig.render(Optional.empty(), flags), resume, new TrainingListener() {
        });
    }

    private static byte[] adapterBytes(FinetuneSummary s) throws IOException {
        return Files.readAllBytes(s.adapter().resolve("adapter_model.safetensors"));
    }

    /** 8 one-sentence examples, then windows of 8 with one story longer than the context each. */
    private static Path longTailData(Path stories, Path file) throws IOException {
        String text = Files.readString(stories);
        String[] parts = text.split("<\\|endoftext\\|>");
        StringBuilder longStory = new StringBuilder();
        int p = 0;
        while (longStory.length() < 4000) longStory.append(parts[p++].strip()).append(' ');
        ObjectMapper json = new ObjectMapper();
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 3 * WINDOW; i++) {
            String t = i >= WINDOW && i % WINDOW == 3 ? longStory.toString() : "Tom saw a little cat " + i + ".";
            lines.add(json.createObjectNode().put("text", t).toString());
        }
        Files.write(file, lines);
        return file;
    }
}
