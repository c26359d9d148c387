package io.qlora4j.sim;

import io.qlora4j.memory.tier.DeviceSlots;
import io.qlora4j.memory.tier.DeviceTier;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * A device tier that holds no page bytes: it hands out slots under the capacity and remembers, per slot, when the data
 * being copied into it arrives. Using a slot ({@link #prefetchHint}, which the memory manager calls for every page it
 * pins for the optimizer) makes the {@link VirtualClock} wait for that arrival: the stall of an update whose state is
 * still on the link. Every view is one shared read-only page, so a pin that is written through fails loudly.
 */
public final class SimulatedDeviceTier implements DeviceTier {
    private final int pageBytes;
    private final long capacityBytes;
    private final DeviceSlots slots;
    private final VirtualClock clock;
    private final MemorySegment sharedView;
    private long[] readyAt = new long[1024];   // (slot) simulated time its contents are complete

    public SimulatedDeviceTier(long capacityBytes, int pageBytes, VirtualClock clock) {
        this.pageBytes = pageBytes;
        this.capacityBytes = capacityBytes;
        this.slots = new DeviceSlots(capacityBytes, pageBytes);
        this.clock = clock;
        this.sharedView = MemorySegment.ofArray(new byte[pageBytes]).asReadOnly();
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
    public OptionalInt allocate() {
        OptionalInt allocated = slots.allocate();
        if (allocated.isEmpty()) return allocated;
        int slot = allocated.getAsInt();
        if (slot >= readyAt.length) readyAt = Arrays.copyOf(readyAt, Math.max(slot + 1, readyAt.length * 2));
        readyAt[slot] = clock.nanoTime();
        return allocated;
    }

    @Override
    public void free(int slot) {
        slots.free(slot);
    }

    @Override
    public MemorySegment view(int slot) {
        return sharedView;
    }

    /** Moves no bytes: a simulated page has none. */
    @Override
    public void copyIn(int slot, MemorySegment source) {
    }

    /** Moves no bytes: a simulated page has none. */
    @Override
    public void copyOut(int slot, MemorySegment target) {
    }

    /** A fresh page is zero-filled on the device, which costs no link time. */
    @Override
    public void zero(int slot) {
        readyAt[slot] = clock.nanoTime();
    }

    /** The compute stream is about to use the slot: wait for its data. */
    @Override
    public void prefetchHint(int slot) {
        clock.waitUntil(readyAt[slot]);
    }

    @Override
    public int slotsInUse() {
        return slots.inUseCount();
    }

    /** When the slot's contents are complete. */
    long readyAt(int slot) {
        return readyAt[slot];
    }

    /** A copy into the slot ends at {@code time}. */
    void arrivesAt(int slot, long time) {
        readyAt[slot] = time;
    }

    @Override
    public void close() {
        slots.clear();
    }
}
