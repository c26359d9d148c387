package io.qlora4j.sim;

import io.qlora4j.memory.Access;
import io.qlora4j.memory.AcquireResult;
import io.qlora4j.memory.AllocationResult;
import io.qlora4j.memory.BufferPolicy;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.Lease;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.OutOfDeviceMemory;
import io.qlora4j.memory.PagedBuffer;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.memory.Pin;
import io.qlora4j.memory.RegistrationResult;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The discrete-event simulation: the real {@link MemoryManager} (its budget, eviction order and prefetch policy) over a
 * {@link SimulatedDeviceTier} of the GPU's capacity and a {@link SimulatedHostTier} behind a {@link HostLink}, on a
 * {@link VirtualClock}, with the page-in run inline. It makes the calls {@code TrainStep} makes, sized by the
 * {@link MemoryModel}:
 * <ol>
 *   <li>lease the weights ("model weights": base, embeddings, norms and adapters) and the gradients, and register the
 *       optimizer state as one paged buffer of {@link MemoryModel#optimizerBufferBytes()} (pageable for the paged
 *       optimizers, resident otherwise);</li>
 *   <li>per step, per micro-batch: lease its activations, compute for {@link ComputeModel#microBatchNanos}, release
 *       (which starts the background page-in);</li>
 *   <li>the optimizer update: prefetch, then acquire each state page for writing, update it, unpin;</li>
 *   <li>{@link MemoryManager#endStep}.</li>
 * </ol>
 * Time passes only as the device computes or waits for the link; the stall is the waiting. A refused micro-batch marks
 * its step out of memory (the trainer would stop there); the simulation goes on with the next step so a run shows every
 * step that would fail.
 *
 * <p>One deviation from {@code PagedAdamW}: its state is pinned page by page rather than by groups of tensors that share
 * pages (the grouping is private to the optimizer). Paging traffic is the same; only a budget too small to hold the
 * largest group at once (a few MB for LoRA) would behave differently.
 */
public final class Simulation {
    private static final String OPTIMIZER_OWNER = "adamw";

    private final SimulationConfig config;
    private final TrainingSetup setup;
    private final MemoryModel model;
    private final Footprint persistent;
    private final VirtualClock clock = new VirtualClock();

    private Simulation(SimulationConfig config) {
        this.config = config;
        this.setup = config.setup();
        this.model = MemoryModel.of(setup);
        this.persistent = model.persistent();
    }

    public static SimulationResult run(SimulationConfig config, SequenceTrace trace) {
        return new Simulation(config).run(trace);
    }

    private SimulationResult run(SequenceTrace trace) {
        if (trace.batch() != setup.batch()) {
            throw new IllegalArgumentException("the trace has micro-batches of " + trace.batch() + " sequences, the setup " + setup.batch());
        }
        int pageBytes = MemoryModel.PAGE_BYTES;
        long budget = config.gpu().memoryBytes();
        SimulatedDeviceTier device = new SimulatedDeviceTier(budget, pageBytes, clock);
        SimulatedHostTier host = new SimulatedHostTier(device, new HostLink(config.gpu().linkBytesPerSecond()), clock);
        PagingConfig paging = new PagingConfig(budget, pageBytes, config.paging(), true);
        List<StepRecord> steps = new ArrayList<>();
        try (MemoryManager memory = MemoryManager.create(paging, device, host, clock, Runnable::run)) {
            Optional<String> refused = lease(memory, Category.WEIGHTS, "model weights")
                    .or(() -> lease(memory, Category.GRADIENTS, "gradients"));
            PagedBuffer state = null;
            if (refused.isEmpty()) {
                BufferPolicy policy = setup.optimizer().options().paged() ? BufferPolicy.PAGEABLE : BufferPolicy.ALWAYS_RESIDENT;
                RegistrationResult r = memory.register(OPTIMIZER_OWNER, model.optimizerBufferBytes(), policy);
                if (r instanceof PagedBuffer b) state = b;
                else refused = Optional.of("optimizer state does not fit: " + r);
            }
            if (refused.isPresent()) return new SimulationResult(config, trace, persistent, refused, List.of());
            for (int s = 0; s < trace.stepCount(); s++) steps.add(step(memory, state, s + 1, trace.step(s)));
        }
        return new SimulationResult(config, trace, persistent, Optional.empty(), steps);
    }

    /** A persistent lease; the refusal's message if it does not fit. Held until the manager closes. */
    private Optional<String> lease(MemoryManager memory, Category category, String label) {
        AllocationResult r = memory.allocate(category, persistent.of(category), label);
        return r instanceof OutOfDeviceMemory o ? Optional.of(o.message()) : Optional.empty();
    }

    private StepRecord step(MemoryManager memory, PagedBuffer state, int step, int[] lengths) {
        long stall = clock.stallNanos();
        long compute = clock.computeNanos();
        Optional<String> refusal = Optional.empty();
        Map<Component, Long> atPeak = Map.of();
        long largest = -1;
        for (int length : lengths) {
            Footprint activations = model.activations(setup.batch(), length);
            AllocationResult r = memory.allocate(Category.ACTIVATIONS, activations.total(), "activations of step " + step
                    + " (" + setup.batch() + " × " + length + " tokens)");
            if (r instanceof OutOfDeviceMemory o) {
                refusal = Optional.of(o.message());
                atPeak = composition(activations, persistent.of(Component.OPTIMIZER_STATE));
                break;
            }
            if (activations.total() > largest) {
                largest = activations.total();
                atPeak = composition(activations, memory.snapshot().residentBytes().get(Category.OPTIMIZER_STATE));
            }
            clock.compute(config.compute().microBatchNanos(setup, setup.batch(), length));
            memory.release((Lease) r);
        }
        if (refusal.isEmpty()) refusal = optimizerStep(memory, state, step);
        PagingStats stats = memory.endStep(step);
        return new StepRecord(step, lengths, refusal, atPeak, stats.peakTotalBytes(), stats.pagedOutBytes(),
                stats.pagedInBytes(), clock.stallNanos() - stall, clock.computeNanos() - compute);
    }

    /** {@code PagedAdamW.step}: fit check, prefetch, then every page pinned for writing and updated in order. */
    private Optional<String> optimizerStep(MemoryManager memory, PagedBuffer state, int step) {
        if (state.policy() == BufferPolicy.PAGEABLE) {
            Optional<OutOfDeviceMemory> fit = memory.checkPinnable("optimizer step " + step + " of '" + OPTIMIZER_OWNER + "'", state.pageBytes());
            if (fit.isPresent()) return Optional.of(fit.get().message());
        }
        memory.prefetch();
        long pageNanos = config.compute().optimizerPageNanos(state.pageBytes());
        for (int p = 0; p < state.pageCount(); p++) {
            AcquireResult r = memory.acquire(state, (long) p * state.pageBytes(), state.payloadBytes(p), Access.write(step));
            if (r instanceof OutOfDeviceMemory o) return Optional.of(o.message());
            clock.compute(pageNanos);
            memory.unpin((Pin) r);
        }
        return Optional.empty();
    }

    /** Persistent components, the optimizer state as {@code optimizerBytes} on the device, plus the activations. */
    private Map<Component, Long> composition(Footprint activations, long optimizerBytes) {
        Map<Component, Long> m = new EnumMap<>(persistent.plus(activations).bytes());
        m.put(Component.OPTIMIZER_STATE, optimizerBytes);
        return m;
    }
}
