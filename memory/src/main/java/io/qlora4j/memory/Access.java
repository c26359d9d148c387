package io.qlora4j.memory;

/**
 * How a {@link Pin} will use its pages. A write marks the pages dirty and stamps them with {@code version}, which is
 * stored with the page when it is written to the host tier (the optimizer passes its step count).
 *
 * @param write   whether the pages will be modified
 * @param version the version written pages will carry ({@code >= 0}); ignored for reads
 */
public record Access(boolean write, long version) {
    private static final Access READ = new Access(false, 0);

    public Access {
        if (version < 0) throw new IllegalArgumentException("page version " + version + " is negative");
    }

    public static Access read() {
        return READ;
    }

    public static Access write(long version) {
        return new Access(true, version);
    }
}
