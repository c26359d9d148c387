package io.qlora4j.memory;

/** Whether the pages of a registered buffer may leave the device. */
public enum BufferPolicy {
    /** Pages may be evicted to the host tier under pressure and are brought back when acquired ({@code paged_adamw_*}). */
    PAGEABLE,
    /** Pages stay on the device for the buffer's lifetime and count against the budget ({@code adamw_32bit}, or paging off). */
    ALWAYS_RESIDENT
}
