package io.qlora4j.model.train;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.EvalSplit;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.LoraConfig;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The paper's central claim at our scale (issue 4's acceptance): QLoRA (NF4 + double quantization) on stories260K with
 * Alpaca (10% held out by {@code EvalSplit(0.1, 42)}), max length 256, batch 4, LoRA r 64 / alpha 16 / dropout 0 on all
 * seven projections, constant lr 1e-3, max grad norm 0.3, paged AdamW 32-bit, gradient checkpointing, 200 steps:
 * <ul>
 *   <li>lowers the held-out loss on target tokens by at least 15%;</li>
 *   <li>ends within 2% of the same run over an fp32 base (16/32-bit LoRA);</li>
 *   <li>with {@code paged_adamw_8bit} ends within 2% of 32-bit AdamW, with about 4x less optimizer state (3.4x here:
 *       bitsandbytes keeps 32-bit state for tensors under 4096 elements).</li>
 * </ul>
 * The data is prepared once for the class and each run is trained once; the loss curves are printed every 50 steps so
 * the test log records them. Every run starts from the same adapter initialisation and sees the batches in the same
 * order, so the differences are the base's storage and the optimizer's state format alone. Held-out loss is evaluated
 * before and after only (the three runs take about 3 minutes on the 2-core development machine).
 *
 * <p>Recorded (1731 train / 201 held-out examples; training loss = mean over the preceding 50 steps):
 * <pre>
 *                          held-out   train@50  train@100  train@150  train@200   held-out@200
 *   QLoRA, 32-bit AdamW      4.2311     3.5790     3.2318     3.1442     2.9867         2.9473  (-30.3%)
 *   LoRA on fp32 base        4.0674     3.5047     3.1717     3.1076     2.9479         2.9069  (QLoRA/fp32 1.014)
 *   QLoRA, 8-bit AdamW      (4.2311)    3.5790     3.2318     3.1441     2.9866         2.9470  (state 3.39x smaller)
 * </pre>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QloraEndToEndTest {

    private static final int STEPS = 200;
    private static final int BATCH = 4;
    private static final int MAX_LENGTH = 256;
    private static final int LOG_EVERY = 50;
    private static final long ADAPTER_SEED = 1234;
    private static final long ORDER_SEED = 7;

    @TempDir
    Path runs;

    private Path model;
    private final List<Batch> train = new ArrayList<>();
    private final List<Batch> heldOut = new ArrayList<>();
    private final Map<String, Run> done = new HashMap<>();

    /** A finished run: held-out loss before and after, the training curve, the optimizer state size. */
    record Run(String name, double heldOutBefore, double heldOutAfter, List<String> curve, long stateBytes,
               int[] tensorElements, double seconds) {
    }

    @BeforeAll
    void prepareData() {
        model = SharedData.require("models/stories260K/stories260K.bin");
        Path file = SharedData.require("datasets/alpaca/alpaca_small_2000.json");
        Tokenizer tok = Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
        ExampleRenderer renderer = new ExampleRenderer(DataFormat.ALPACA, Optional.empty(), false);
        ExampleTokenizer tokenizer = new ExampleTokenizer(tok, MAX_LENGTH);
        EvalSplit split = new EvalSplit(0.1, 42);
        List<TokenizedExample> trainExamples = new ArrayList<>();
        List<TokenizedExample> evalExamples = new ArrayList<>();
        try (Stream<DatasetRecord> records = DatasetFile.open(file).records()) {
            records.forEach(r -> {
                TokenizedExample e = tokenizer.tokenize(renderer.render(r, file.toString())).example()
                        .validate(tok.vocabSize(), file.toString());
                if (e.targetCount() == 0) return;   // the prompt alone filled the max length: nothing to learn from
                (split.isEval(r.offset()) ? evalExamples : trainExamples).add(e);
            });
        }
        Collections.shuffle(trainExamples, new Random(ORDER_SEED));
        for (int i = 0; i + BATCH <= trainExamples.size() && train.size() < STEPS; i += BATCH) {
            train.add(Batch.pack(trainExamples.subList(i, i + BATCH), 0));
        }
        for (int i = 0; i < evalExamples.size(); i += BATCH) {
            heldOut.add(Batch.pack(evalExamples.subList(i, Math.min(evalExamples.size(), i + BATCH)), 0));
        }
        System.out.printf("alpaca_small_2000: %d train / %d held-out examples (with targets, max length %d); %d steps of %d%n",
                trainExamples.size(), evalExamples.size(), MAX_LENGTH, train.size(), BATCH);
        assertEquals(STEPS, train.size(), "enough training data for " + STEPS + " steps without repeating");
    }

    @Test
    void qloraLowersTheHeldOutLossAndMatchesAnFp32Base() {
        Run qlora = run("qlora nf4+dq base, paged_adamw_32bit", WeightFormat.qlora(), OptimizerKind.PAGED_ADAMW_32BIT);
        Run fp32 = run("lora fp32 base, paged_adamw_32bit", new WeightFormat.Fp32(), OptimizerKind.PAGED_ADAMW_32BIT);
        double drop = 1 - qlora.heldOutAfter() / qlora.heldOutBefore();
        System.out.printf(Locale.ROOT, "QLoRA held-out loss %.4f -> %.4f (-%.1f%%); fp32 base %.4f -> %.4f; QLoRA/fp32 = %.4f%n",
                qlora.heldOutBefore(), qlora.heldOutAfter(), 100 * drop, fp32.heldOutBefore(), fp32.heldOutAfter(),
                qlora.heldOutAfter() / fp32.heldOutAfter());
        assertTrue(drop >= 0.15, "QLoRA lowers the held-out loss by at least 15%: " + qlora);
        assertEquals(1, qlora.heldOutAfter() / fp32.heldOutAfter(), 0.02, "QLoRA within 2% of the fp32-base run");
    }

    @Test
    void eightBitOptimizerStateMatches32BitWithAQuarterOfTheMemory() {
        Run fp32State = run("qlora nf4+dq base, paged_adamw_32bit", WeightFormat.qlora(), OptimizerKind.PAGED_ADAMW_32BIT);
        Run int8State = run("qlora nf4+dq base, paged_adamw_8bit", WeightFormat.qlora(), OptimizerKind.PAGED_ADAMW_8BIT,
                fp32State.heldOutBefore());
        double ratio = (double) fp32State.stateBytes() / int8State.stateBytes();
        System.out.printf(Locale.ROOT, "held-out loss: 32-bit AdamW %.4f, 8-bit %.4f (8-bit/32-bit = %.4f); state %d vs %d bytes (%.2fx)%n",
                fp32State.heldOutAfter(), int8State.heldOutAfter(), int8State.heldOutAfter() / fp32State.heldOutAfter(),
                fp32State.stateBytes(), int8State.stateBytes(), ratio);
        assertEquals(1, int8State.heldOutAfter() / fp32State.heldOutAfter(), 0.02, "8-bit AdamW within 2% of 32-bit");
        // bitsandbytes' rule: 8 bytes per element in 32-bit; in 8-bit one byte per moment plus a float32 absmax per
        // moment and block of 256, except tensors under min_8bit_size = 4096 elements (here the 32 x 64 k/v lora_B),
        // which keep 32-bit state. Hence a little under 4x.
        long expected8bit = 0;
        for (int n : int8State.tensorElements()) {
            expected8bit += n < AdamW.MIN_8BIT_SIZE ? 8L * n : 2L * n + 8L * Math.ceilDiv(n, AdamW.BLOCK_SIZE_8BIT);
        }
        assertEquals(8L * Arrays.stream(fp32State.tensorElements()).asLongStream().sum(), fp32State.stateBytes());
        assertEquals(expected8bit, int8State.stateBytes());
        assertTrue(ratio > 3.3, "8-bit state is about 4x smaller: " + ratio);
    }

    /** Trains once per configuration (tests share the QLoRA run). */
    private Run run(String name, WeightFormat base, OptimizerKind optimizer) {
        return run(name, base, optimizer, Double.NaN);
    }

    /**
     * @param knownBefore the held-out loss before training when another run already measured it on the same base (the
     *                    fresh adapter is a no-op, so it is the base's loss), else NaN (an evaluation costs a few percent of a run)
     */
    private Run run(String name, WeightFormat base, OptimizerKind optimizer, double knownBefore) {
        return done.computeIfAbsent(name, n -> train(n, base, optimizer, knownBefore));
    }

    private Run train(String name, WeightFormat base, OptimizerKind optimizer, double knownBefore) {
        long start = System.nanoTime();
        LlamaModel llama;
        try (ModelFiles files = ModelFiles.open(model)) {
            llama = ModelLoader.load(files, base).model();
        }
        LoraAdapters adapters = LoraAdapters.create(llama.config(),
                new LoraConfig(64, 16, 0, EnumSet.allOf(LinearLayerName.class)), ADAPTER_SEED);
        TrainStep.Options options = new TrainStep.Options(true, 0.3f, LrSchedule.constant(1e-3), 0);
        Path dir = runs.resolve(name.replaceAll("[^a-z0-9]+", "-"));
        List<String> curve = new ArrayList<>();
        try (MemoryManager memory = MemoryManager.openRunDirectory(dir, PagingConfig.of(1L << 30), 64L << 20);
             TrainStep step = TrainStep.lora(llama, adapters, memory, optimizer.options(), options)) {
            double before = Double.isNaN(knownBefore) ? step.evaluate(heldOut).mean() : knownBefore;
            curve.add(String.format(Locale.ROOT, "step %3d  held-out %.4f", 0, before));
            double windowLoss = 0;
            int windowTokens = 0;
            for (int s = 0; s < STEPS; s++) {
                TrainStep.Result r = step.step(List.of(train.get(s)));
                windowLoss += r.lossSum();
                windowTokens += r.targetTokens();
                if ((s + 1) % LOG_EVERY == 0) {
                    curve.add(String.format(Locale.ROOT, "step %3d  train %.4f (mean of the last %d steps)", s + 1,
                            windowLoss / windowTokens, LOG_EVERY));
                    windowLoss = 0;
                    windowTokens = 0;
                }
            }
            double after = step.evaluate(heldOut).mean();
            curve.add(String.format(Locale.ROOT, "step %3d  held-out %.4f", STEPS, after));
            int[] elements = step.trainables().stream().mapToInt(t -> t.value().length).toArray();
            Run run = new Run(name, before, after, curve, step.optimizer().stateBytes(), elements,
                    (System.nanoTime() - start) * 1e-9);
            System.out.printf(Locale.ROOT, "%s (%.1f s):%n  %s%n", name, run.seconds(), String.join("\n  ", curve));
            return run;
        }
    }
}
