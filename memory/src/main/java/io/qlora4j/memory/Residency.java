package io.qlora4j.memory;

/** Where a page's authoritative bytes are, as the {@link PageTable} records it. */
public enum Residency {
    /** In a device slot; may also have an older or identical copy in the host tier. */
    DEVICE,
    /** Not on the device: in the host tier, or a zero page never written anywhere (it costs nothing until used). */
    HOST,
    /** A device slot is reserved and the bytes are being copied in from the host tier. */
    PAGING_IN
}
