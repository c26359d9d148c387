package io.qlora4j.memory.tier;

import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.OptionalInt;

/**
 * The slot bookkeeping every {@link DeviceTier} shares: at most {@code capacityBytes / pageBytes} slots, numbered in the
 * order they are first handed out, slots given back reused first (the most recent one, still warm in cache), each
 * freed once. Holds no page bytes and no lock: the tier owns both.
 */
public final class DeviceSlots {
    private final int capacity;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final BitSet inUse = new BitSet();
    private int handedOut;   // slots [handedOut, capacity) were never handed out
    private int used;

    public DeviceSlots(long capacityBytes, int pageBytes) {
        this.capacity = (int) Math.min(Integer.MAX_VALUE, capacityBytes / pageBytes);
    }

    /**
     * A slot, or empty when all are in use. New slots come in order 0, 1, 2, …, so a tier that backs slots lazily
     * knows a slot is new when it equals the number it has backed so far.
     */
    public OptionalInt allocate() {
        Integer reused = free.poll();
        int slot;
        if (reused != null) slot = reused;
        else if (handedOut < capacity) slot = handedOut++;
        else return OptionalInt.empty();
        inUse.set(slot);
        used++;
        return OptionalInt.of(slot);
    }

    public void free(int slot) {
        if (!inUse.get(slot)) throw new IllegalStateException("device slot " + slot + " freed twice or never allocated");
        inUse.clear(slot);
        free.push(slot);
        used--;
    }

    public boolean inUse(int slot) {
        return inUse.get(slot);
    }

    public int inUseCount() {
        return used;
    }

    /** Forgets every slot (the tier is closing). */
    public void clear() {
        inUse.clear();
        free.clear();
        used = 0;
    }
}
