package io.qlora4j.sim;

import io.qlora4j.memory.tier.DeviceTier;
import io.qlora4j.memory.tier.HostTier;
import io.qlora4j.memory.tier.PageRecord;

import java.util.List;

/**
 * A host tier that stores no bytes and only times the link. A page-out ({@link #write}: the memory manager evicting a
 * dirty page to make room) is synchronous, as a CUDA page fault that must evict before it can allocate: the compute
 * stream waits until the copy has left. A page-in ({@link #read}, on demand or by the background prefetch) is queued on
 * the link and completes later; only using the page waits for it ({@link SimulatedDeviceTier#prefetchHint}).
 */
public final class SimulatedHostTier implements HostTier {
    private final SimulatedDeviceTier device;
    private final HostLink link;
    private final VirtualClock clock;

    /** The host side of {@code device}, over {@code link}, on the device's clock. */
    public SimulatedHostTier(SimulatedDeviceTier device, HostLink link, VirtualClock clock) {
        this.device = device;
        this.link = link;
        this.clock = clock;
    }

    @Override
    public String location() {
        return "simulated host memory";
    }

    @Override
    public int pageBytes() {
        return device.pageBytes();
    }

    @Override
    public void write(PageRecord record, DeviceTier from, int slot) {
        checkPaired(from);
        clock.waitUntil(link.toHost(record.payloadBytes(), Math.max(clock.nanoTime(), device.readyAt(slot))));
    }

    /** Only a checkpoint flush writes zero pages; nothing crosses the link for them. */
    @Override
    public void writeZeros(PageRecord record) {
    }

    @Override
    public void read(PageRecord expected, DeviceTier into, int slot) {
        checkPaired(into);
        device.arrivesAt(slot, link.toDevice(expected.payloadBytes(), clock.nanoTime()));
    }

    @Override
    public void remove(long pageId) {
    }

    /** A simulation starts with an empty host tier. */
    @Override
    public List<PageRecord> verifyAll() {
        return List.of();
    }

    @Override
    public void close() {
    }

    private void checkPaired(DeviceTier other) {
        if (other != device) throw new IllegalArgumentException("this simulated host tier pairs with " + device + ", not " + other);
    }
}
