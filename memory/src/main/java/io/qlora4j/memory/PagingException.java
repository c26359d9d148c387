package io.qlora4j.memory;

/**
 * The one domain error of the {@code memory} module: a host-tier file that cannot be opened or verified, a page whose
 * bytes fail their checksum, an I/O failure while paging. The message says what, where (file, page) and how to fix it;
 * {@link #location()} and {@link #pageId()} carry the same facts for code that reacts to them.
 *
 * <p>Not for refusals the caller is expected to handle (out of device memory, a buffer that cannot be recovered): those
 * are return values ({@link Refusal}). Not for bugs (double release, use after close): those are
 * {@link IllegalStateException} / {@link IllegalArgumentException}.
 */
public final class PagingException extends RuntimeException {
    /** {@link #pageId()} when the error concerns no single page. */
    public static final long NO_PAGE = -1;

    private final String location;
    private final long pageId;

    public PagingException(String message, String location, long pageId, Throwable cause) {
        super(message, cause);
        this.location = location;
        this.pageId = pageId;
    }

    public PagingException(String message, String location, long pageId) {
        this(message, location, pageId, null);
    }

    /** The host-tier file (or other store) the error concerns. */
    public String location() {
        return location;
    }

    /** The page the error concerns, or {@link #NO_PAGE}. */
    public long pageId() {
        return pageId;
    }
}
