package io.qlora4j.memory.tier;

import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;

/**
 * Device memory for pages: a fixed number of page-sized slots under a hard byte capacity. The memory manager decides
 * which page lives in which slot; a tier only hands out slots and moves bytes. Implementations: {@link ArenaDeviceTier}
 * (an off-heap arena that stands in for GPU memory on CPU); a CUDA tier would allocate the slots with
 * {@code cudaMallocManaged} as bitsandbytes' {@code get_paged} does, and a simulator may keep no bytes at all.
 *
 * <p>Slot memory must be addressable from the host ({@link #view}): the optimizer update runs on it in place, as
 * bitsandbytes runs on managed memory. Thread-safe: the memory manager calls it from the caller's thread and from its
 * page-in thread, never on the same slot at once.
 *
 * <p>Not an allocator for activations or weights: those are accounted by the memory manager, not stored here.
 */
public interface DeviceTier extends AutoCloseable {

    /** Bytes per slot. */
    int pageBytes();

    /** Hard capacity in bytes; at most {@code capacityBytes / pageBytes} slots are ever in use. */
    long capacityBytes();

    /** A free slot, or empty when the capacity is used up. New slots read as zero; reused slots hold stale bytes. */
    OptionalInt allocate();

    /** Returns a slot; using it afterwards is a bug. */
    void free(int slot);

    /** The slot's bytes ({@code pageBytes} long), addressable from the host. Valid until the slot is freed. */
    MemorySegment view(int slot);

    /** Copies {@code source} (at most {@code pageBytes}) to the start of the slot: a host-to-device page-in. */
    void copyIn(int slot, MemorySegment source);

    /** Copies the first {@code target.byteSize()} bytes of the slot into {@code target}: a device-to-host page-out. */
    void copyOut(int slot, MemorySegment target);

    /** Fills the slot with zeros (a fresh page). */
    void zero(int slot);

    /**
     * Hint that the slot is about to be used by device code ({@code cudaMemPrefetchAsync} to the device for managed
     * memory). The CPU arena has nothing to do.
     */
    default void prefetchHint(int slot) {
    }

    /** Slots currently allocated. */
    int slotsInUse();

    /** Releases all slot memory; views obtained earlier become invalid. */
    @Override
    void close();
}
