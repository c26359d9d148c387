package io.qlora4j.kernels.cpu;

/**
 * Per-thread scratch arrays reused across kernel calls. Attention needs O(keys · HS) temporaries per task (a transposed
 * KV head: 1 MB at 2048 keys and HS 128); allocating them on every call, once per layer per generated token, would
 * churn the heap with arrays G1 treats as humongous. The matmul's 32 KB panel and decode buffer are needed by every
 * linear layer of every generated token: allocating (and zeroing) them per call cost a fifth of a small model's token. Each kernel thread keeps the largest array requested per slot
 * (bounded by the longest context seen); contents are unspecified, callers initialise what they read.
 * Not reentrant per slot: a kernel must not call another kernel that uses the same slot on the same thread.
 */
final class Scratch {

    /** Independent buffers a kernel task may hold at once. */
    enum Slot { TRANSPOSED, ROW, KEY_GRADIENT, VALUE_GRADIENT, PANEL, DECODED }

    private static final ThreadLocal<float[][]> BUFFERS =
            ThreadLocal.withInitial(() -> new float[Slot.values().length][0]);

    private Scratch() {
    }

    /** A float array of at least {@code size} elements for this thread and slot; contents unspecified. */
    static float[] floats(Slot slot, int size) {
        float[][] buffers = BUFFERS.get();
        if (buffers[slot.ordinal()].length < size) buffers[slot.ordinal()] = new float[size];
        return buffers[slot.ordinal()];
    }
}
