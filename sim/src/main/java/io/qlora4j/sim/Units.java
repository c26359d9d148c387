package io.qlora4j.sim;

import java.util.Locale;

/** Byte counts for reports, in decimal units as GPU memory is sold and as the paper writes them ("45.98 GB", "18.2 MB"). */
final class Units {
    private Units() {
    }

    /** The largest decimal unit that keeps at least one digit before the point. */
    static String bytes(long bytes) {
        double b = Math.abs((double) bytes);
        if (b >= 1e9) return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
        if (b >= 1e6) return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        if (b >= 1e3) return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
        return bytes + " B";
    }
}
