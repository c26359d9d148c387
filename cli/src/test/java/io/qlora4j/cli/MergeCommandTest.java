package io.qlora4j.cli;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.LoraAdapter;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.PeftAdapter;
import io.qlora4j.testing.SharedData;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code merge} as a user runs it: the merged folder alone gives the logits of base + adapter (≤ 1e-4) for the default
 * NF4 base and for {@code --dtype fp32}; {@code --requantize nf4} writes a 4-bit folder that loads; errors are one line.
 */
class MergeCommandTest {

    private static final int[] IDS = {1, 5, 9, 20, 7, 3, 64, 100, 127, 2};

    @Test
    void mergedFolderGivesTheLogitsOfBasePlusAdapter(@TempDir Path tmp) throws IOException {
        Path base = SharedData.require("fixtures/tiny_llama_base");
        Path adapter = trainedAdapter(base, tmp.resolve("adapter"));
        for (String dtype : new String[]{"nf4", "fp32"}) {
            Path out = tmp.resolve("merged-" + dtype);
            CliRun r = CliRun.run("merge", "--model", base.toString(), "--adapter", adapter.toString(), "--out", out.toString(),
                    "--dtype", dtype);
            assertEquals(0, r.exitCode(), r.err());
            assertTrue(r.out().contains("merged ") && r.out().contains("(base as " + dtype + ")"), r.out());
            LlamaModel baseModel = load(base, WeightFormat.parse(dtype));
            float[] expected = logits(baseModel, AdapterContext.inference(PeftAdapter.load(adapter, baseModel.config(),
                    baseModel.ropeLayout())));
            Tolerance.assertClose("merge --dtype " + dtype, expected, logits(load(out, new WeightFormat.Fp32()), AdapterContext.NONE),
                    1e-4, 0);
        }
        Path requantized = tmp.resolve("merged-requantized");
        CliRun r = CliRun.run("merge", "--model", base.toString(), "--adapter", adapter.toString(), "--out",
                requantized.toString(), "--requantize", "nf4");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(Files.readString(requantized.resolve("config.json"), StandardCharsets.UTF_8)
                .contains("\"bnb_4bit_quant_type\" : \"nf4\""));
        assertEquals(IDS.length * 128, logits(load(requantized, WeightFormat.qlora()), AdapterContext.NONE).length);
    }

    @Test
    void mergeErrorsAreOneLine(@TempDir Path tmp) {
        Path base = SharedData.require("fixtures/tiny_llama_base");
        CliRun r = CliRun.run("merge", "--model", base.toString(), "--adapter", tmp.resolve("none").toString(), "--out",
                tmp.resolve("out").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("no adapter_config.json"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        CliRun badType = CliRun.run("merge", "--model", base.toString(), "--adapter",
                SharedData.require("fixtures/tiny_lora_adapter").toString(), "--out", tmp.resolve("out").toString(),
                "--requantize", "nf3");
        assertEquals(1, badType.exitCode());
        assertTrue(badType.err().contains("nf3"), badType.err());
    }

    /** The fixture adapter with Gaussian lora_B (as after training), saved in PEFT format. */
    private static Path trainedAdapter(Path base, Path dir) {
        try (ModelFiles files = ModelFiles.open(base)) {
            LoraAdapters a = PeftAdapter.load(SharedData.require("fixtures/tiny_lora_adapter"), files.config(),
                    files.tensors().ropeLayout());
            SplittableRandom rnd = new SplittableRandom(4);
            for (int l = 0; l < a.layers(); l++) {
                for (LinearLayerName n : a.config().targets()) {
                    LoraAdapter ad = a.get(l, n);
                    for (int i = 0; i < ad.b().length; i++) ad.b()[i] = (float) (rnd.nextGaussian() * 0.05);
                }
            }
            PeftAdapter.save(a, files.config(), files.tensors().ropeLayout(), dir, base.toString(), true);
        }
        return dir;
    }

    private static LlamaModel load(Path path, WeightFormat format) {
        try (ModelFiles files = ModelFiles.open(path)) {
            return ModelLoader.load(files, format).model();
        }
    }

    private static float[] logits(LlamaModel model, AdapterContext adapters) {
        int[] labels = new int[IDS.length];
        Arrays.fill(labels, Batch.IGNORE_INDEX);
        return new Transformer(model).logits(new Batch(1, IDS.length, IDS, labels, new long[]{0}, 0), adapters);
    }
}
