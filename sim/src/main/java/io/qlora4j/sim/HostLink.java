package io.qlora4j.sim;

/**
 * The host-device link (PCIe), full duplex: host-to-device and device-to-host transfers each queue on their own
 * direction, one after another, at {@code bytesPerSecond}. A transfer starts when its direction is free and its data is
 * ready, and ends {@code bytes / bytesPerSecond} later.
 */
public final class HostLink {
    private final double bytesPerSecond;
    private long toDeviceFreeAt;
    private long toHostFreeAt;

    public HostLink(double bytesPerSecond) {
        if (!(bytesPerSecond > 0)) throw new SimulationException("host link bandwidth must be positive, got " + bytesPerSecond);
        this.bytesPerSecond = bytesPerSecond;
    }

    /** Queues a host-to-device copy that may start at {@code notBefore}; returns when it ends. */
    public long toDevice(long bytes, long notBefore) {
        long start = Math.max(notBefore, toDeviceFreeAt);
        toDeviceFreeAt = start + duration(bytes);
        return toDeviceFreeAt;
    }

    /** Queues a device-to-host copy that may start at {@code notBefore}; returns when it ends. */
    public long toHost(long bytes, long notBefore) {
        long start = Math.max(notBefore, toHostFreeAt);
        toHostFreeAt = start + duration(bytes);
        return toHostFreeAt;
    }

    private long duration(long bytes) {
        return Math.round(bytes / bytesPerSecond * 1e9);
    }
}
