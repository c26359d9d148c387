package io.qlora4j.model.train;

import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.memory.optim.OptimizerState;
import io.qlora4j.memory.optim.TensorState;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Gradients;
import io.qlora4j.model.compute.TinyModels;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.LoraConfig;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The optimizer step around the training pass: learning-rate schedules against values computed by hand from Hugging
 * Face's {@code get_scheduler} formulas, global-norm clipping at the paper's 0.3 against a manual computation of the
 * gradient, its norm and the first AdamW update, and the step's refusals (a non-finite gradient, activations over the
 * device budget with paging off), each leaving parameters and optimizer state exactly as they were.
 */
class TrainStepTest {

    private static final LoraConfig LORA = new LoraConfig(3, 6, 0, EnumSet.allOf(LinearLayerName.class));
    private static final double LR = 1e-3;

    @Test
    void constantScheduleIgnoresWarmupLikeHuggingFace() {
        LrSchedule s = new LrSchedule(LrSchedule.Type.CONSTANT, LR, 10, 100);
        for (int step : new int[]{0, 1, 5, 10, 99, 150}) assertEquals(LR, s.lr(step), 1e-10, "step " + step);
        LrSchedule w = new LrSchedule(LrSchedule.Type.CONSTANT_WITH_WARMUP, LR, 4, 100);
        // warmup: lr·completed/warmup
        assertEquals(0, w.lr(0), 1e-10);
        assertEquals(2.5e-4, w.lr(1), 1e-10);
        assertEquals(7.5e-4, w.lr(3), 1e-10);
        assertEquals(LR, w.lr(4), 1e-10);
        assertEquals(LR, w.lr(99), 1e-10);
    }

    @Test
    void linearScheduleWarmsUpThenDecaysToZero() {
        // warmup 2, total 10: lr·t/2 for t < 2, then lr·(10 − t)/(10 − 2)
        LrSchedule s = new LrSchedule(LrSchedule.Type.LINEAR, LR, 2, 10);
        double[] expected = {0, 5e-4, 1e-3, 8.75e-4, 7.5e-4, 6.25e-4, 5e-4, 3.75e-4, 2.5e-4, 1.25e-4, 0};
        for (int t = 0; t < expected.length; t++) assertEquals(expected[t], s.lr(t), 1e-10, "step " + t);
        assertEquals(0, s.lr(12), 1e-10, "clamped at zero after the last step");
    }

    @Test
    void cosineScheduleWarmsUpThenFollowsHalfACosine() {
        // warmup 2, total 10: lr·t/2 for t < 2, then lr·(1 + cos(π·(t − 2)/8))/2
        LrSchedule s = new LrSchedule(LrSchedule.Type.COSINE, LR, 2, 10);
        assertEquals(0, s.lr(0), 1e-10);
        assertEquals(5e-4, s.lr(1), 1e-10);
        assertEquals(1e-3, s.lr(2), 1e-10);
        assertEquals(1e-3 * (1 + Math.sqrt(0.5)) / 2, s.lr(4), 1e-10);   // cos(π/4)
        assertEquals(5e-4, s.lr(6), 1e-10);                               // cos(π/2)
        assertEquals(1e-3 * (1 - Math.sqrt(0.5)) / 2, s.lr(8), 1e-10);   // cos(3π/4)
        assertEquals(0, s.lr(10), 1e-10);
        assertEquals(0, s.lr(14), 1e-10, "stays at zero past the end");
    }

    /**
     * Max norm 0.3: the step's gradient is the manual one (loss summed over target tokens / their number), its norm is
     * the global L2 norm, and the first AdamW update uses g·0.3/(norm + 1e-6) (torch's clip_grad_norm_ coefficient):
     * m = (1 − β1)·g', v = (1 − β2)·g'², p' = p − lr·c2/c1 · m/(√v + eps·c2). Without clipping g' = g.
     */
    @ParameterizedTest(name = "max grad norm {0}")
    @ValueSource(floats = {0.3f, 1e6f})
    void globalNormClippingMatchesAManualComputation(float maxNorm, @TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 61, true);
        Batch first = TinyModels.batch(c, 3, 10, 7);
        Batch second = TinyModels.batch(c, 4, 8, 12);
        int tokens = first.targetTokens() + second.targetTokens();

        LoraAdapters manual = TinyModels.adapters(c, LORA, 8);
        Transformer t = new Transformer(model);
        t.forwardBackward(first, AdapterContext.inference(manual), Gradients.FROZEN, false, 1f / tokens);
        t.forwardBackward(second, AdapterContext.inference(manual), Gradients.FROZEN, false, 1f / tokens);
        double sumSq = 0;
        for (TrainableTensor p : manual.trainables()) for (float g : p.grad()) sumSq += (double) g * g;
        double norm = Math.sqrt(sumSq);
        if (maxNorm < 1) assertTrue(norm > maxNorm, "the gradient norm " + norm + " is large enough to be clipped");
        float coef = norm > maxNorm ? (float) (maxNorm / (norm + 1e-6)) : 1f;

        LoraAdapters adapters = TinyModels.adapters(c, LORA, 8);
        LrSchedule schedule = new LrSchedule(LrSchedule.Type.LINEAR, LR, 2, 10);
        try (MemoryManager memory = MemoryManager.openRunDirectory(tmp, PagingConfig.of(64L << 20), 1 << 20);
             TrainStep step = TrainStep.lora(model, adapters, memory, OptimizerKind.PAGED_ADAMW_32BIT.options(),
                     new TrainStep.Options(false, maxNorm, schedule, 0))) {
            List<float[]> before = step.trainables().stream().map(p -> p.value().clone()).toList();
            TrainStep.Result r = step.step(List.of(first, second));
            assertEquals(norm, r.gradNorm(), 1e-6 * norm);
            assertEquals(maxNorm < 1, r.clipped());
            assertEquals(tokens, r.targetTokens());
            assertEquals(schedule.lr(0), r.lr());
            // the linear schedule's first update has lr 0: only the moments move
            assertEquals(0f, r.lr());
            r = step.step(List.of(first, second));
            assertEquals(schedule.lr(1), r.lr());

            OptimizerState state = step.optimizer().exportState();
            var options = OptimizerKind.PAGED_ADAMW_32BIT.options();
            for (int i = 0; i < manual.trainables().size(); i++) {
                TrainableTensor p = manual.trainables().get(i);
                TensorState s = state.tensors().get(i);
                assertEquals(p.name(), s.name());
                int n = p.grad().length;
                float[] m = new float[n], v = new float[n], expectedP = new float[n];
                float[] m1 = new float[n], v1 = new float[n];
                // two identical steps: the moments see the same clipped gradient twice; step 1 had lr 0
                AdamWStep update2 = new AdamWStep(2, schedule.lr(1), options.beta1(), options.beta2(), options.eps(), 0f, coef);
                for (int j = 0; j < n; j++) {
                    float g = coef * p.grad()[j];
                    m1[j] = (1f - options.beta1()) * g;
                    v1[j] = (1f - options.beta2()) * (g * g);
                    m[j] = m1[j] * options.beta1() + (1f - options.beta1()) * g;
                    v[j] = v1[j] * options.beta2() + (1f - options.beta2()) * (g * g);
                    expectedP[j] = before.get(i)[j] + update2.stepSize()
                            * (m[j] / ((float) Math.sqrt(v[j]) + options.eps() * update2.correction2()));
                }
                Tolerance.assertClose(p.name() + " m", m, floats(s.bytes(), 0, n), 1e-10, 1e-5);
                Tolerance.assertClose(p.name() + " v", v, floats(s.bytes(), n, n), 1e-15, 1e-5);
                Tolerance.assertClose(p.name() + " value", expectedP, step.trainables().get(i).value(), 1e-9, 1e-6);
            }
        }
    }

    @Test
    void nonFiniteGradientIsRefusedWithoutChangingAnything(@TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(true, false);
        LlamaModel model = TinyModels.model(c, RopeLayout.INTERLEAVED, 71, true);
        Batch batch = TinyModels.batch(c, 5, 9, 11);
        LoraAdapters adapters = TinyModels.adapters(c, LORA, 9);
        try (MemoryManager memory = MemoryManager.openRunDirectory(tmp, PagingConfig.of(64L << 20), 1 << 20);
             TrainStep step = TrainStep.lora(model, adapters, memory, OptimizerKind.PAGED_ADAMW_32BIT.options(),
                     new TrainStep.Options(true, 0.3f, LrSchedule.constant(LR), 0))) {
            step.step(List.of(batch));
            adapters.get(1, LinearLayerName.GATE_PROJ).b()[5] = Float.NaN;   // a diverged weight: NaN loss and gradients
            List<float[]> before = step.trainables().stream().map(p -> p.value().clone()).toList();
            OptimizerState stateBefore = step.optimizer().exportState();
            NonFiniteGradientException e = assertThrows(NonFiniteGradientException.class, () -> step.step(List.of(batch)));
            assertTrue(e.getMessage().contains("step 2: the gradient norm is NaN") && e.getMessage().contains("not applied"),
                    e.getMessage());
            assertEquals(1, step.completedSteps());
            assertEquals(1, step.optimizer().steps());
            assertEquals(stateBefore, step.optimizer().exportState());
            for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), step.trainables().get(i).value());
            assertEquals(0, memory.snapshot().residentBytes().getOrDefault(Category.ACTIVATIONS, 0L),
                    "the step's activation lease was returned");
        }
    }

    /**
     * Paging off and a budget that holds the weights, gradients, optimizer state and a small micro-batch's activations:
     * a step whose second micro-batch needs more throws the manager's out-of-memory message, and parameters, optimizer
     * state and the manager's accounting are as before.
     */
    @Test
    void activationsOverTheBudgetWithPagingOffThrowTheManagersMessage(@TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(false, false);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 81, true);
        Batch small = TinyModels.batch(c, 6, 6);
        Batch large = TinyModels.batch(c, 7, 40, 40, 40, 40);
        int page = 4096;
        TrainStep.Options options = new TrainStep.Options(true, 0.3f, LrSchedule.constant(LR), 0);
        long fixed;
        long smallActivations, largeActivations;
        try (MemoryManager probe = MemoryManager.openRunDirectory(tmp.resolve("probe"), PagingConfig.of(64L << 20), 1 << 20);
             TrainStep step = TrainStep.lora(model, TinyModels.adapters(c, LORA, 10), probe,
                     OptimizerKind.PAGED_ADAMW_32BIT.options(), options)) {
            fixed = probe.snapshot().residentTotal();
            smallActivations = step.activationBytes(small.batchSize(), small.seqLen());
            largeActivations = step.activationBytes(large.batchSize(), large.seqLen());
        }
        assertTrue(largeActivations > smallActivations + page, largeActivations + " vs " + smallActivations);
        PagingConfig noPaging = new PagingConfig(fixed + smallActivations + page, page, false, true);
        LoraAdapters adapters = TinyModels.adapters(c, LORA, 10);
        try (MemoryManager memory = MemoryManager.openRunDirectory(tmp.resolve("run"), noPaging, 1 << 20);
             TrainStep step = TrainStep.lora(model, adapters, memory, OptimizerKind.PAGED_ADAMW_32BIT.options(), options)) {
            step.step(List.of(small));
            List<float[]> before = step.trainables().stream().map(p -> p.value().clone()).toList();
            OptimizerState stateBefore = step.optimizer().exportState();
            var snapshotBefore = memory.snapshot();

            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> step.step(List.of(small, large)));
            String label = "activations of step 2 (2 micro-batches, longest " + large.seqLen() + " tokens)";
            assertTrue(e.getMessage().startsWith("out of device memory: activations '" + label + "' needs"), e.getMessage());
            assertTrue(e.getMessage().contains("(" + largeActivations + " bytes)") && e.getMessage().contains("paging is off"),
                    e.getMessage());
            System.out.println("refused: " + e.getMessage());

            assertEquals(1, step.completedSteps());
            assertEquals(stateBefore, step.optimizer().exportState());
            for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), step.trainables().get(i).value());
            assertEquals(snapshotBefore.residentBytes(), memory.snapshot().residentBytes());
            assertEquals(snapshotBefore.leases(), memory.snapshot().leases());
            step.step(List.of(small));   // the run goes on with micro-batches that fit
            assertEquals(2, step.completedSteps());
        }
    }

    /** Full fine-tuning (every weight of an fp32 model) through TrainStep lowers the loss; a 4-bit base is refused. */
    @Test
    void fullFineTuningRunsAndLowersTheLoss(@TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 91, false);
        Batch batch = TinyModels.batch(c, 12, 14, 9, 11);
        try (MemoryManager memory = MemoryManager.openRunDirectory(tmp, PagingConfig.of(64L << 20), 1 << 20);
             TrainStep step = TrainStep.full(model, memory, OptimizerKind.PAGED_ADAMW_32BIT.options(),
                     new TrainStep.Options(true, 1f, LrSchedule.constant(3e-3), 0))) {
            assertEquals(null, step.adapters());
            float[] embeddingBefore = model.weights().embedding().clone();
            double first = step.step(List.of(batch)).loss();
            double last = first;
            for (int s = 0; s < 15; s++) last = step.step(List.of(batch)).loss();
            double evaluated = step.evaluate(List.of(batch)).mean();
            System.out.printf("full fine-tuning, 16 steps on one batch: loss %.4f -> %.4f (evaluated %.4f)%n", first, last, evaluated);
            assertTrue(last < 0.8 * first, first + " -> " + last);
            assertTrue(evaluated < last, "the last update lowered the loss again");
            assertFalse(Arrays.equals(embeddingBefore, model.weights().embedding()), "the base weights themselves train");
        }
        LlamaModel fourBit = TinyModels.model(c, RopeLayout.HALF_SPLIT, 91, true);
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> new FullFineTune(fourBit));
        assertTrue(e.getMessage().contains("full fine-tuning needs a 32-bit base") && e.getMessage().contains("--dtype fp32"),
                e.getMessage());
    }

    /** {@code count} little-endian float32 values from {@code bytes}, starting at float index {@code from}. */
    private static float[] floats(byte[] bytes, int from, int count) {
        float[] out = new float[count];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().position(from).get(out);
        return out;
    }
}
