package io.qlora4j.memory.tier;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The CPU stand-in for GPU memory: page slots carved from one shared off-heap {@link Arena}, at most
 * {@code capacityBytes / pageBytes} of them. Slots are allocated from the arena on first use (so a large budget costs
 * nothing until pages arrive) and recycled through a free list; all memory is released at {@link #close()}.
 *
 * <p>Not a general allocator (no variable sizes, memory returns to the OS only at close) and not unified memory: it is
 * always "device resident", and the paging between it and the host tier is explicit.
 */
public final class ArenaDeviceTier implements DeviceTier {
    /** Slot alignment: an OS page, so slots never share a cache line or a page with each other. */
    private static final long SLOT_ALIGNMENT = 4096;

    private final int pageBytes;
    private final long capacityBytes;
    private final DeviceSlots slots;
    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> memory = new ArrayList<>();   // (slot) pageBytes each, allocated on first use
    private boolean closed;

    public ArenaDeviceTier(long capacityBytes, int pageBytes) {
        if (pageBytes <= 0 || pageBytes % SLOT_ALIGNMENT != 0) {
            throw new IllegalArgumentException("page size " + pageBytes + " bytes is not a positive multiple of " + SLOT_ALIGNMENT);
        }
        if (capacityBytes < pageBytes) {
            throw new IllegalArgumentException("device capacity " + capacityBytes + " bytes is smaller than one page ("
                    + pageBytes + " bytes): raise the device memory budget");
        }
        this.pageBytes = pageBytes;
        this.capacityBytes = capacityBytes;
        this.slots = new DeviceSlots(capacityBytes, pageBytes);
    }

    @Override
    public int pageBytes() {
        return pageBytes;
    }

    @Override
    public long capacityBytes() {
        return capacityBytes;
    }

    @Override
    public synchronized OptionalInt allocate() {
        checkOpen();
        OptionalInt slot = slots.allocate();
        if (slot.isPresent() && slot.getAsInt() == memory.size()) memory.add(arena.allocate(pageBytes, SLOT_ALIGNMENT));
        return slot;
    }

    @Override
    public synchronized void free(int slot) {
        checkOpen();
        slots.free(slot);
    }

    @Override
    public MemorySegment view(int slot) {
        return segment(slot);
    }

    @Override
    public void copyIn(int slot, MemorySegment source) {
        MemorySegment.copy(source, 0, segment(slot), 0, source.byteSize());
    }

    @Override
    public void copyOut(int slot, MemorySegment target) {
        MemorySegment.copy(segment(slot), 0, target, 0, target.byteSize());
    }

    @Override
    public void zero(int slot) {
        segment(slot).fill((byte) 0);
    }

    @Override
    public synchronized int slotsInUse() {
        return slots.inUseCount();
    }

    /** Slots ever carved from the arena: the off-heap bytes held are {@code slotsAllocated() · pageBytes}. */
    public synchronized int slotsAllocated() {
        return memory.size();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    private synchronized MemorySegment segment(int slot) {
        checkOpen();
        if (!slots.inUse(slot)) throw new IllegalStateException("device slot " + slot + " is not allocated");
        return memory.get(slot);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("device tier is closed");
    }
}
