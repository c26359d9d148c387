package io.qlora4j.memory.optim;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.memory.Access;
import io.qlora4j.memory.AcquireResult;
import io.qlora4j.memory.BufferPolicy;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.OutOfDeviceMemory;
import io.qlora4j.memory.PagedBuffer;
import io.qlora4j.memory.Pin;
import io.qlora4j.memory.RecoveryMismatch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * AdamW whose state (m and v of every trainable tensor, float32 or 8-bit blockwise) lives in one paged buffer of a
 * {@link MemoryManager}: bitsandbytes' {@code PagedAdamW} / {@code PagedAdamW32bit} / {@code PagedAdamW8bit}
 * ({@code optim/optimizer.py}, {@code Optimizer2State} with {@code is_paged=True}). The parameters and gradients stay
 * the model's {@code float[]}s; this class owns only the state.
 *
 * <p>A step runs like bitsandbytes' {@code step()}: the state of each group of tensors is brought onto the device
 * (bitsandbytes: {@code prefetch_state}, {@code cudaMemPrefetchAsync}) and updated by the backend's {@link AdamW}
 * kernels (the one implementation of bitsandbytes' update math; a page run is copied into scratch arrays for them). Here the whole
 * state's page-in is started first ({@link MemoryManager#prefetch()}, in update order) and each group is then
 * {@link MemoryManager#acquire acquired}, so the update of one group overlaps the page-in of the next and waits only
 * for pages that are not back yet. Before touching anything, the step checks that its largest group can be pinned;
 * if not it returns {@link StepRefused} with parameters and state unchanged.
 *
 * <p>Deviations from bitsandbytes, by design: the state of small tensors is paged too (packed into shared pages, so
 * bitsandbytes' rule of paging only tensors of 100,000+ elements has no reason here), and the 8-bit absmax vectors are
 * paged with their codes. With {@code paged = false} ({@code adamw_32bit}) the buffer is registered always-resident:
 * the state stays on the device and is accounted like paged state.
 *
 * <p>Checkpoints: {@link #exportState()} / {@link #importState} round-trip the state bit for bit. A manager restarted
 * on a flushed host tier hands the state back to {@link #create} of the same owner and parameters, at the step it was
 * flushed ({@link #steps()}).
 */
public final class PagedAdamW implements OptimizerCreation, AutoCloseable {
    /** Little-endian float32, the layout of state in pages (and in exported checkpoints). */
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Elements of an 8-bit block (bitsandbytes ≥ 0.44). */
    private static final int BLOCK = AdamW.BLOCK_SIZE_8BIT;
    /** Elements per unit of parallel work; a multiple of the 8-bit block. */
    private static final int CHUNK = 64 * BLOCK;

    private final MemoryManager memory;
    private final PagedBuffer buffer;
    private final AdamWOptions options;
    private final StateLayout layout;
    private final AdamW kernels;
    private long step;

    private PagedAdamW(MemoryManager memory, PagedBuffer buffer, AdamWOptions options, StateLayout layout, AdamW kernels,
                       long step) {
        this.memory = memory;
        this.buffer = buffer;
        this.options = options;
        this.layout = layout;
        this.kernels = kernels;
        this.step = step;
    }

    /**
     * Registers the state buffer {@code owner} for these parameters (in update order) with the manager. If the
     * manager's host tier holds a flushed state of this owner with the same layout, it is adopted and
     * {@link #steps()} is the step it was flushed at; otherwise the state starts at zero (step 0).
     *
     * @return the optimizer, or {@link CreationRefused} (nothing registered)
     */
    public static OptimizerCreation create(MemoryManager memory, String owner, List<ParamSpec> params, AdamWOptions options) {
        return create(memory, owner, params, options, Backend.cpu().adamw());
    }

    /** As {@link #create(MemoryManager, String, List, AdamWOptions)} with explicit update kernels. */
    public static OptimizerCreation create(MemoryManager memory, String owner, List<ParamSpec> params, AdamWOptions options,
                                           AdamW kernels) {
        StateLayout layout = StateLayout.of(params, options.format(), memory.config().pageBytes());
        return switch (memory.register(owner, layout.bufferBytes, options.paged() ? BufferPolicy.PAGEABLE : BufferPolicy.ALWAYS_RESIDENT)) {
            case PagedBuffer b -> new PagedAdamW(memory, b, options, layout, kernels, b.recoveredVersion().orElse(0));
            case OutOfDeviceMemory refusal -> new CreationRefused(refusal);
            case RecoveryMismatch refusal -> new CreationRefused(refusal);
        };
    }

    /** Bytes of the paged buffer these parameters need (alignment and page packing included): size the host tier from it. */
    public static long bufferBytes(List<ParamSpec> params, StateFormat format, int pageBytes) {
        return StateLayout.of(params, format, pageBytes).bufferBytes;
    }

    /** State bytes without padding: 8 per element for float32 state, about 2 for 8-bit (≈ 4x smaller). */
    public long stateBytes() {
        return layout.stateBytes();
    }

    /** Updates applied so far (the next step uses t = steps() + 1). */
    public long steps() {
        return step;
    }

    public PagedBuffer buffer() {
        return buffer;
    }

    public AdamWOptions options() {
        return options;
    }

    /**
     * One AdamW update of every parameter.
     *
     * @param lr     this step's learning rate (the schedule's value)
     * @param params (tensors) parameter arrays in the order given to {@link #create}, updated in place
     * @param grads  (tensors) gradients, same shapes
     * @return {@link Stepped}, or {@link StepRefused} with nothing changed
     */
    public StepResult step(float lr, List<float[]> params, List<float[]> grads) {
        return step(lr, 1f, params, grads);
    }

    /**
     * One AdamW update with every gradient multiplied by {@code gradScale} on the fly: bitsandbytes' {@code gnorm_scale},
     * min(1, maxNorm / globalNorm) for global-norm clipping.
     */
    public StepResult step(float lr, float gradScale, List<float[]> params, List<float[]> grads) {
        if (!(lr >= 0f) || !Float.isFinite(lr)) throw new IllegalArgumentException("learning rate " + lr + " must be >= 0 and finite");
        checkShapes(params, "parameter");
        checkShapes(grads, "gradient");
        Optional<OutOfDeviceMemory> refusal = checkFits("optimizer step " + (step + 1));
        if (refusal.isPresent()) return new StepRefused(refusal.get());
        long t = step + 1;
        AdamWStep scalars = new AdamWStep(Math.toIntExact(t), lr, options.beta1(), options.beta2(), options.eps(),
                options.weightDecay(), gradScale);
        memory.prefetch();
        for (StateLayout.Group group : layout.groups) {
            Pin pin = pin(group, Access.write(t));
            try {
                update(group, pin, scalars, params, grads);
            } finally {
                memory.unpin(pin);
            }
        }
        step = t;
        return new Stepped(t);
    }

    /** The whole state, bit for bit, for a checkpoint. */
    public OptimizerState exportState() {
        checkFits("optimizer state export").ifPresent(r -> {
            throw new IllegalStateException(r.message());
        });
        List<TensorState> tensors = new ArrayList<>(layout.tensors.size());
        for (StateLayout.Group group : layout.groups) {
            Pin pin = pin(group, Access.read());
            try {
                for (int i = group.first(); i <= group.last(); i++) {
                    StateLayout.Tensor t = layout.tensors.get(i);
                    byte[] bytes = new byte[(int) StateLayout.stateBytes(t.elements(), t.format())];
                    int at = 0;
                    for (long[] section : sections(t)) {
                        copy(pin, section[0], bytes, at, (int) section[1], false);
                        at += (int) section[1];
                    }
                    tensors.add(new TensorState(t.name(), t.elements(), t.format(), bytes));
                }
            } finally {
                memory.unpin(pin);
            }
        }
        return new OptimizerState(step, tensors);
    }

    /**
     * Replaces the whole state with an exported one (same parameter names, sizes and formats, in order) and its step
     * count. The pages are stamped with that step.
     */
    public void importState(OptimizerState state) {
        if (state.tensors().size() != layout.tensors.size()) {
            throw new IllegalArgumentException("optimizer state has " + state.tensors().size() + " tensors, this optimizer "
                    + layout.tensors.size());
        }
        for (int i = 0; i < layout.tensors.size(); i++) {
            StateLayout.Tensor t = layout.tensors.get(i);
            TensorState s = state.tensors().get(i);
            if (!s.name().equals(t.name()) || s.elements() != t.elements() || s.format() != t.format()) {
                throw new IllegalArgumentException("optimizer state tensor " + i + " is '" + s.name() + "' (" + s.elements()
                        + " elements, " + s.format() + "), this optimizer expects '" + t.name() + "' (" + t.elements()
                        + " elements, " + t.format() + "): the checkpoint belongs to another model or optimizer");
            }
        }
        checkFits("optimizer state import").ifPresent(r -> {
            throw new IllegalStateException(r.message());
        });
        for (StateLayout.Group group : layout.groups) {
            Pin pin = pin(group, Access.write(state.step()));
            try {
                for (int i = group.first(); i <= group.last(); i++) {
                    byte[] bytes = state.tensors().get(i).bytes();
                    int at = 0;
                    for (long[] section : sections(layout.tensors.get(i))) {
                        copy(pin, section[0], bytes, at, (int) section[1], true);
                        at += (int) section[1];
                    }
                }
            } finally {
                memory.unpin(pin);
            }
        }
        step = state.step();
    }

    /**
     * Discards the state: unregisters the buffer, so its pages leave the device and the host tier. To keep the state for
     * a restart, {@link MemoryManager#flush() flush} and close the manager instead.
     */
    @Override
    public void close() {
        memory.unregister(buffer);
    }

    private Optional<OutOfDeviceMemory> checkFits(String what) {
        if (buffer.policy() == BufferPolicy.ALWAYS_RESIDENT) return Optional.empty();
        return memory.checkPinnable(what + " of '" + buffer.owner() + "' (largest group)", layout.maxGroupPages() * buffer.pageBytes());
    }

    private Pin pin(StateLayout.Group group, Access access) {
        AcquireResult r = memory.acquire(buffer, group.offset(), group.length(), access);
        if (r instanceof Pin pin) return pin;
        throw new IllegalStateException("state of tensors " + group.first() + ".." + group.last() + " of '" + buffer.owner()
                + "' refused after the fit check (did another thread allocate during the step?): " + r);
    }

    private void update(StateLayout.Group group, Pin pin, AdamWStep scalars, List<float[]> params, List<float[]> grads) {
        List<int[]> chunks = new ArrayList<>();   // (tensor, from, to)
        for (int i = group.first(); i <= group.last(); i++) {
            int n = layout.tensors.get(i).elements();
            for (int from = 0; from < n; from += CHUNK) chunks.add(new int[]{i, from, Math.min(n, from + CHUNK)});
        }
        int pageFloats = buffer.pageBytes() / 4;
        Parallel.forRange(chunks.size(), 1, (from, to) -> {
            Scratch scratch = new Scratch(pageFloats);
            for (int c = from; c < to; c++) {
                int[] chunk = chunks.get(c);
                StateLayout.Tensor t = layout.tensors.get(chunk[0]);
                float[] p = params.get(chunk[0]);
                float[] g = grads.get(chunk[0]);
                if (t.eightBit()) update8(t, pin, scalars, p, g, chunk[1], chunk[2], scratch);
                else update32(t, pin, scalars, p, g, chunk[1], chunk[2], scratch);
            }
        });
    }

    /** A task's copies of the state it updates: the kernels work on arrays, the state lives in page segments. */
    private static final class Scratch {
        final float[] m;
        final float[] v;
        final byte[] codes1 = new byte[BLOCK];
        final byte[] codes2 = new byte[BLOCK];
        final float[] absmax1 = new float[1];
        final float[] absmax2 = new float[1];

        Scratch(int pageFloats) {
            m = new float[pageFloats];
            v = new float[pageFloats];
        }
    }

    /** Elements [from, to) in runs that keep m and v each inside one page. */
    private void update32(StateLayout.Tensor t, Pin pin, AdamWStep scalars, float[] p, float[] g, int from, int to,
                          Scratch s) {
        int pageBytes = pin.buffer().pageBytes();
        for (int i = from; i < to; ) {
            long mAt = t.state1() + 4L * i;
            long vAt = t.state2() + 4L * i;
            long mIn = pin.offsetInPage(mAt);
            long vIn = pin.offsetInPage(vAt);
            int run = (int) Math.min(to - i, Math.min((pageBytes - mIn) / 4, (pageBytes - vIn) / 4));
            MemorySegment m = pin.pageAt(mAt).asSlice(mIn, 4L * run);
            MemorySegment v = pin.pageAt(vAt).asSlice(vIn, 4L * run);
            MemorySegment.copy(m, F32, 0, s.m, 0, run);
            MemorySegment.copy(v, F32, 0, s.v, 0, run);
            kernels.adamw32bit(p, i, g, i, s.m, 0, s.v, 0, run, scalars);
            MemorySegment.copy(s.m, 0, m, F32, 0, run);
            MemorySegment.copy(s.v, 0, v, F32, 0, run);
            i += run;
        }
    }

    /** Blocks of elements [from, to); {@code from} is block-aligned, and a block's codes never straddle a page. */
    private void update8(StateLayout.Tensor t, Pin pin, AdamWStep scalars, float[] p, float[] g, int from, int to,
                         Scratch s) {
        for (int e = from; e < to; e += BLOCK) {
            int block = e / BLOCK;
            int count = Math.min(BLOCK, t.elements() - e);
            long c1 = t.state1() + e;
            long c2 = t.state2() + e;
            long a1 = t.absmax1() + 4L * block;
            long a2 = t.absmax2() + 4L * block;
            MemorySegment codes1 = pin.pageAt(c1).asSlice(pin.offsetInPage(c1), count);
            MemorySegment codes2 = pin.pageAt(c2).asSlice(pin.offsetInPage(c2), count);
            MemorySegment.copy(codes1, ValueLayout.JAVA_BYTE, 0, s.codes1, 0, count);
            MemorySegment.copy(codes2, ValueLayout.JAVA_BYTE, 0, s.codes2, 0, count);
            s.absmax1[0] = pin.pageAt(a1).get(F32, pin.offsetInPage(a1));
            s.absmax2[0] = pin.pageAt(a2).get(F32, pin.offsetInPage(a2));
            kernels.adamw8bit(p, e, g, e, s.codes1, 0, s.codes2, 0, s.absmax1, s.absmax2, 0, count, scalars);
            MemorySegment.copy(s.codes1, 0, codes1, ValueLayout.JAVA_BYTE, 0, count);
            MemorySegment.copy(s.codes2, 0, codes2, ValueLayout.JAVA_BYTE, 0, count);
            pin.pageAt(a1).set(F32, pin.offsetInPage(a1), s.absmax1[0]);
            pin.pageAt(a2).set(F32, pin.offsetInPage(a2), s.absmax2[0]);
        }
    }

    /** (offset in the buffer, bytes) of each exported section of a tensor, in {@link TensorState} order. */
    private static long[][] sections(StateLayout.Tensor t) {
        int n = t.elements();
        if (!t.eightBit()) return new long[][]{{t.state1(), 4L * n}, {t.state2(), 4L * n}};
        long absmax = 4L * t.blocks();
        return new long[][]{{t.state1(), n}, {t.state2(), n}, {t.absmax1(), absmax}, {t.absmax2(), absmax}};
    }

    /** Copies between a byte range of the buffer (which may cross pages) and an array. */
    private static void copy(Pin pin, long offset, byte[] array, int arrayOffset, int length, boolean intoBuffer) {
        MemorySegment heap = MemorySegment.ofArray(array);
        int pageBytes = pin.buffer().pageBytes();
        for (int done = 0; done < length; ) {
            long at = offset + done;
            long in = pin.offsetInPage(at);
            int run = (int) Math.min(length - done, pageBytes - in);
            if (intoBuffer) MemorySegment.copy(heap, arrayOffset + done, pin.pageAt(at), in, run);
            else MemorySegment.copy(pin.pageAt(at), in, heap, arrayOffset + done, run);
            done += run;
        }
    }

    private void checkShapes(List<float[]> arrays, String what) {
        if (arrays.size() != layout.tensors.size()) {
            throw new IllegalArgumentException(arrays.size() + " " + what + " arrays for " + layout.tensors.size() + " parameters");
        }
        for (int i = 0; i < arrays.size(); i++) {
            StateLayout.Tensor t = layout.tensors.get(i);
            if (arrays.get(i).length != t.elements()) {
                throw new IllegalArgumentException(what + " '" + t.name() + "' has " + arrays.get(i).length + " elements, expected " + t.elements());
            }
        }
    }
}
