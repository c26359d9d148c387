package io.qlora4j.memory.optim;

import io.qlora4j.memory.BufferPolicy;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.Lease;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.NanoClock;
import io.qlora4j.memory.OutOfDeviceMemory;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.memory.RecoveryMismatch;
import io.qlora4j.memory.tier.ArenaDeviceTier;
import io.qlora4j.memory.tier.ChronicleHostTier;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagedAdamWTest {
    private static final int PAGE = 4096;
    /** Big tensors span many pages, small ones share pages, 300 stays 32-bit in the 8-bit optimizer. */
    private static final List<ParamSpec> PARAMS = List.of(new ParamSpec("wq.lora_A", 20_000), new ParamSpec("wq.lora_B", 5_000),
            new ParamSpec("norm", 300), new ParamSpec("tiny", 40), new ParamSpec("wo.lora_A", 4_096), new ParamSpec("wo.lora_B", 9_000));

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(StateFormat.class)
    void aRunThatPagesEveryStepIsBitIdenticalToAnUnlimitedRun(StateFormat format) {
        AdamWOptions options = AdamWOptions.defaults(format, true).withWeightDecay(0.01f);
        long stateBuffer = PagedAdamW.bufferBytes(PARAMS, format, PAGE);
        float[][] unlimited = run(manager("unlimited", 1 << 26, true), options, 8, 0, null);
        long weights = 10L * PAGE;
        long largestGroup = StateLayout.of(PARAMS, format, PAGE).maxGroupPages() * PAGE;
        long budget = weights + Math.max(stateBuffer / 2, largestGroup + PAGE);   // about half of the state fits next to the weights
        List<PagingStats> stats = new ArrayList<>();
        float[][] paged = run(manager("tiny", budget, true), options, 8, budget - weights - PAGE, stats);
        for (int i = 0; i < PARAMS.size(); i++) {
            assertArrayEquals(unlimited[i], paged[i], PARAMS.get(i).name() + " differs (assertArrayEquals on floats compares bits)");
        }
        for (PagingStats s : stats) {
            // Step 1 starts from zero pages, which move without bytes; from step 2 on real state goes out and comes back.
            assertTrue(s.evictions() > 0 && s.pagesIn() > 0 && s.pagedOutBytes() > 0, "every step pages: " + s.toJson());
            assertTrue(s.step() == 1 || s.pagedInBytes() > 0, "state read back: " + s.toJson());
            assertTrue(s.peakTotalBytes() <= budget, s.toJson());
        }
    }

    @Test
    void exportThenImportRoundTripsBitForBitAndTrainingContinuesIdentically() {
        AdamWOptions options = AdamWOptions.defaults(StateFormat.DYNAMIC_8BIT, true);
        try (MemoryManager a = manager("a", 1 << 24, true); MemoryManager b = manager("b", 1 << 24, true)) {
            PagedAdamW first = create(a, options);
            float[][] p1 = initialParams();
            for (int t = 1; t <= 3; t++) first.step(1e-3f, List.of(p1), gradients(t, p1));
            OptimizerState exported = first.exportState();
            assertEquals(3, exported.step());
            assertEquals(StateFormat.FP32, exported.tensors().get(2).format(), "a 300-element tensor keeps 32-bit state");

            PagedAdamW second = create(b, options);
            second.importState(exported);
            assertEquals(exported, second.exportState(), "export(import(s)) == s, bit for bit");
            float[][] p2 = Arrays.stream(p1).map(float[]::clone).toArray(float[][]::new);
            for (int t = 4; t <= 6; t++) {
                first.step(1e-3f, List.of(p1), gradients(t, p1));
                second.step(1e-3f, List.of(p2), gradients(t, p2));
            }
            for (int i = 0; i < p1.length; i++) assertArrayEquals(p1[i], p2[i]);
            assertEquals(first.exportState(), second.exportState());
        }
    }

    @Test
    void eightBitStateIsAboutFourTimesSmaller() {
        List<ParamSpec> params = List.of(new ParamSpec("a", 65_536), new ParamSpec("b", 65_536), new ParamSpec("c", 8_192));
        try (MemoryManager m = manager("m", 1 << 24, true)) {
            PagedAdamW fp32 = (PagedAdamW) PagedAdamW.create(m, "fp32", params, AdamWOptions.defaults(StateFormat.FP32, true));
            PagedAdamW int8 = (PagedAdamW) PagedAdamW.create(m, "int8", params, AdamWOptions.defaults(StateFormat.DYNAMIC_8BIT, true));
            assertEquals(8L * 139_264, fp32.stateBytes(), "m and v as float32: 8 bytes per element");
            assertEquals(2L * 139_264 + 4 * 2 * (256 + 256 + 32), int8.stateBytes(), "two codes per element + two absmax per 256");
            double ratio = (double) fp32.stateBytes() / int8.stateBytes();
            assertTrue(ratio > 3.9 && ratio < 4.0, "ratio " + ratio);
            assertEquals(1_114_112, fp32.buffer().byteSize());
            // a: [0, 133120) rounded to 33 pages, b: [135168, 268288) to 66 pages, c: [270336, 287232)
            assertEquals(287_232, int8.buffer().byteSize(), "paged buffer: big tensors start on a page, sections 256-aligned");
        }
    }

    @Test
    void eightBitTracksThirtyTwoBitOnAQuadratic() {
        // f(p) = ½ Σ a_i (p_i − c_i)²: gradient a_i (p_i − c_i); from p = 0 with lr 1e-2 for 300 steps.
        int n = 16_384;
        SplittableRandom rnd = new SplittableRandom(21);
        float[] a = new float[n];
        float[] c = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (0.5 + 1.5 * rnd.nextDouble());
            c[i] = (float) rnd.nextGaussian();
        }
        double[] loss = new double[2];
        float[][] finalParams = new float[2][];
        StateFormat[] formats = StateFormat.values();
        for (int k = 0; k < 2; k++) {
            try (MemoryManager m = manager("q" + k, 1 << 24, true)) {
                PagedAdamW opt = (PagedAdamW) PagedAdamW.create(m, "adamw", List.of(new ParamSpec("p", n)), AdamWOptions.defaults(formats[k], true));
                float[] p = new float[n];
                float[] g = new float[n];
                for (int t = 1; t <= 300; t++) {
                    for (int i = 0; i < n; i++) g[i] = a[i] * (p[i] - c[i]);
                    opt.step(1e-2f, List.of(p), List.of(g));
                }
                for (int i = 0; i < n; i++) loss[k] += 0.5 * a[i] * (p[i] - c[i]) * (p[i] - c[i]);
                finalParams[k] = p;
            }
        }
        double start = 0;
        for (int i = 0; i < n; i++) start += 0.5 * a[i] * c[i] * c[i];
        double maxDiff = 0;
        double meanDiff = 0;
        for (int i = 0; i < n; i++) {
            double d = Math.abs(finalParams[0][i] - finalParams[1][i]);
            maxDiff = Math.max(maxDiff, d);
            meanDiff += d / n;
        }
        System.out.printf("quadratic: start %.2f, 32-bit %.5f, 8-bit %.5f, max |p32 - p8| %.5f, mean %.6f%n", start, loss[0], loss[1], maxDiff, meanDiff);
        assertTrue(loss[0] < 2e-2 * start, "32-bit converges");
        // Stated tolerance: the 8-bit final loss within 2% of the 32-bit one (measured: 1%), and parameters within lr on
        // average (measured: 0.4 lr). Single parameters still oscillating around their optimum differ more (up to ~16 lr).
        assertEquals(loss[0], loss[1], 0.02 * loss[0], "8-bit loss vs 32-bit loss");
        assertTrue(meanDiff < 1e-2, "mean |p32 - p8| " + meanDiff + " exceeds lr");
    }

    @Test
    void nonPagedStateStaysResidentAndIsAccounted() {
        try (MemoryManager m = manager("m", 120L * PAGE, true)) {
            PagedAdamW opt = create(m, OptimizerKind.ADAMW_32BIT.options());
            assertEquals(BufferPolicy.ALWAYS_RESIDENT, opt.buffer().policy());
            long pages = opt.buffer().pageCount();
            assertEquals(pages * PAGE, m.snapshot().residentBytes().get(Category.OPTIMIZER_STATE));
            OutOfDeviceMemory refused = assertInstanceOf(OutOfDeviceMemory.class,
                    m.allocate(Category.ACTIVATIONS, (120 - pages + 1) * PAGE, "spike"));
            assertEquals(0, refused.evictableBytes(), "adamw_32bit pages never leave the device");
        }
    }

    @Test
    void aStepThatCannotPinItsLargestGroupIsRefusedWithNothingChanged() {
        try (MemoryManager m = manager("m", 64L * PAGE, true)) {
            PagedAdamW opt = create(m, AdamWOptions.defaults(StateFormat.FP32, true));
            float[][] p = initialParams();
            opt.step(1e-3f, List.of(p), gradients(1, p));
            OptimizerState before = opt.exportState();
            float[][] kept = Arrays.stream(p).map(float[]::clone).toArray(float[][]::new);
            Lease weights = (Lease) m.allocate(Category.WEIGHTS, 40L * PAGE, "weights");   // leaves 24 pages; wq.lora_A's group needs 40
            StepRefused refused = assertInstanceOf(StepRefused.class, opt.step(1e-3f, List.of(p), gradients(2, p)));
            assertTrue(refused.reason().message().startsWith("out of device memory: optimizer_state 'optimizer step 2 of 'adamw'"),
                    refused.reason().message());
            for (int i = 0; i < p.length; i++) assertArrayEquals(kept[i], p[i]);
            m.release(weights);
            assertEquals(before, opt.exportState());
            assertEquals(1, opt.steps());
        }
    }

    @Test
    void aFlushedOptimizerResumesFromTheHostTierAfterACrash() {
        AdamWOptions options = AdamWOptions.defaults(StateFormat.DYNAMIC_8BIT, true);
        float[][] straight = initialParams();
        try (MemoryManager m = manager("straight", 1 << 24, true)) {
            PagedAdamW opt = create(m, options);
            for (int t = 1; t <= 4; t++) opt.step(2e-3f, List.of(straight), gradients(t, straight));
        }
        float[][] p = initialParams();
        try (MemoryManager m = manager("resumed", 30L * PAGE, true)) {
            PagedAdamW opt = create(m, options);
            for (int t = 1; t <= 2; t++) opt.step(2e-3f, List.of(p), gradients(t, p));
            m.flush();   // the checkpoint
        }   // closed without another flush: the crash
        try (MemoryManager m = manager("resumed", 30L * PAGE, true)) {
            PagedAdamW opt = create(m, options);
            assertEquals(2, opt.steps(), "the state is adopted at the step it was flushed");
            for (int t = 3; t <= 4; t++) opt.step(2e-3f, List.of(p), gradients(t, p));
            for (int i = 0; i < p.length; i++) assertArrayEquals(straight[i], p[i]);
            opt.step(2e-3f, List.of(p), gradients(5, p));   // step 5 leaves pages on the device and in the host tier at mixed steps
            m.evict(8L * PAGE);
        }
        try (MemoryManager m = manager("resumed", 30L * PAGE, true)) {
            CreationRefused refused = assertInstanceOf(CreationRefused.class, PagedAdamW.create(m, "adamw", PARAMS, options));
            assertInstanceOf(RecoveryMismatch.class, refused.reason());
        }
    }

    private MemoryManager manager(String name, long budget, boolean paging) {
        Path d = dir.resolve(name);
        try {
            java.nio.file.Files.createDirectories(d);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        PagingConfig config = new PagingConfig(budget, PAGE, paging, true);
        return MemoryManager.create(config, new ArenaDeviceTier(budget, PAGE), ChronicleHostTier.open(d.resolve("host.cm"), PAGE, 512),
                NanoClock.SYSTEM, Runnable::run);
    }

    private static PagedAdamW create(MemoryManager m, AdamWOptions options) {
        return assertInstanceOf(PagedAdamW.class, PagedAdamW.create(m, "adamw", PARAMS, options));
    }

    /**
     * A trainer's loop: weights leased once; each step a spike of activations (forcing evictions when {@code spike > 0}),
     * its release, then the optimizer step. Closes the manager.
     */
    private static float[][] run(MemoryManager m, AdamWOptions options, int steps, long spike, List<PagingStats> stats) {
        try (m) {
            m.allocate(Category.WEIGHTS, 10L * PAGE, "weights");
            PagedAdamW opt = create(m, options);
            float[][] p = initialParams();
            m.endStep(0);
            for (int t = 1; t <= steps; t++) {
                if (spike > 0) m.release(assertInstanceOf(Lease.class, m.allocate(Category.ACTIVATIONS, spike, "activations")));
                assertInstanceOf(Stepped.class, opt.step(1e-3f * t, List.of(p), gradients(t, p)));
                PagingStats s = m.endStep(t);
                if (stats != null) stats.add(s);
            }
            return p;
        }
    }

    private static float[][] initialParams() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[][] p = new float[PARAMS.size()][];
        for (int i = 0; i < p.length; i++) {
            p[i] = new float[PARAMS.get(i).elements()];
            for (int j = 0; j < p[i].length; j++) p[i][j] = (float) (rnd.nextGaussian() * 0.02);
        }
        return p;
    }

    /** Deterministic per step; depends on the parameters like a real gradient, with a NaN now and then. */
    private static List<float[]> gradients(int step, float[][] params) {
        SplittableRandom rnd = new SplittableRandom(1000 + step);
        List<float[]> g = new ArrayList<>();
        for (float[] p : params) {
            float[] gi = new float[p.length];
            for (int j = 0; j < gi.length; j++) gi[j] = (float) (p[j] * 0.1 + rnd.nextGaussian() * Math.exp(rnd.nextGaussian()) * 1e-2);
            if (step % 3 == 0) gi[gi.length / 2] = Float.NaN;
            g.add(gi);
        }
        return g;
    }
}
