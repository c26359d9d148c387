package io.qlora4j.memory.tier;

import java.nio.charset.StandardCharsets;

/**
 * The metadata stored with every page in the host tier, enough to verify a page on its own after a restart: which buffer
 * owns it, where it sits in that buffer, how many of its bytes are payload, and the owner-supplied version of its
 * contents (the optimizer stores its step count, so a set of pages is a consistent snapshot only if all versions agree).
 * The checksum is not part of the record: the host tier computes and verifies it.
 *
 * @param pageId       global page id, the host tier's key
 * @param owner        name of the owning buffer (UTF-8, at most {@link #MAX_OWNER_BYTES} bytes)
 * @param pageIndex    index of this page in its buffer, {@code [0, pageCount)}
 * @param pageCount    number of pages of the owning buffer
 * @param bufferBytes  byte size of the owning buffer
 * @param payloadBytes bytes of this page that belong to the buffer ({@code pageBytes} except for a buffer's last page)
 * @param version      owner-supplied version of the contents ({@code >= 0})
 */
public record PageRecord(long pageId, String owner, int pageIndex, int pageCount, long bufferBytes, int payloadBytes,
                         long version) {

    /** Longest owner name in UTF-8 bytes; it has a fixed slot in the record header. */
    public static final int MAX_OWNER_BYTES = 192;

    public PageRecord {
        if (pageId < 0) throw new IllegalArgumentException("page id " + pageId + " is negative");
        checkOwner(owner);
        if (pageCount < 1 || pageIndex < 0 || pageIndex >= pageCount) {
            throw new IllegalArgumentException("page index " + pageIndex + " is outside [0, " + pageCount + ") of '" + owner + "'");
        }
        if (payloadBytes < 1 || payloadBytes > bufferBytes) {
            throw new IllegalArgumentException("payload of " + payloadBytes + " bytes for page " + pageId + " of a "
                    + bufferBytes + "-byte buffer '" + owner + "'");
        }
        if (version < 0) throw new IllegalArgumentException("version " + version + " of page " + pageId + " is negative");
    }

    /** Validates a buffer owner name: non-blank and at most {@link #MAX_OWNER_BYTES} UTF-8 bytes. */
    public static void checkOwner(String owner) {
        if (owner == null || owner.isBlank()) throw new IllegalArgumentException("buffer owner name is blank");
        int bytes = owner.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_OWNER_BYTES) {
            throw new IllegalArgumentException("buffer owner name '" + owner + "' is " + bytes + " UTF-8 bytes; at most "
                    + MAX_OWNER_BYTES + " fit in a page header: use a shorter name");
        }
    }

    /** "page 17 ('adamw' page 3 of 10)", for messages. */
    public String describe() {
        return "page " + pageId + " ('" + owner + "' page " + pageIndex + " of " + pageCount + ")";
    }
}
