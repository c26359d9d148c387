package io.qlora4j.memory;

import java.util.Locale;

/** Human-readable byte counts for messages ("96.0 MiB"). */
public final class ByteSizes {
    private static final String[] UNITS = {"KiB", "MiB", "GiB", "TiB"};

    private ByteSizes() {
    }

    public static String format(long bytes) {
        if (Math.abs(bytes) < 1024) return bytes + " B";
        double value = bytes;
        int unit = -1;
        while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, UNITS[unit]);
    }
}
