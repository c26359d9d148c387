package io.qlora4j.sim;

import io.qlora4j.memory.Category;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * Bytes per {@link Component}: the persistent part of a run, or one micro-batch's activations.
 *
 * @param bytes components present, each with its bytes (absent components are zero)
 */
public record Footprint(Map<Component, Long> bytes) {

    public Footprint {
        EnumMap<Component, Long> copy = new EnumMap<>(Component.class);
        bytes.forEach((c, b) -> {
            if (b < 0) throw new IllegalArgumentException(c.label() + " of " + b + " bytes");
            copy.put(c, b);
        });
        bytes = Collections.unmodifiableMap(copy);
    }

    public long of(Component c) {
        return bytes.getOrDefault(c, 0L);
    }

    public long total() {
        return bytes.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Bytes the trainer accounts under one category (what it leases or registers for it). */
    public long of(Category category) {
        long sum = 0;
        for (var e : bytes.entrySet()) if (e.getKey().category() == category) sum += e.getValue();
        return sum;
    }

    /** Both footprints' components together. */
    public Footprint plus(Footprint other) {
        EnumMap<Component, Long> sum = new EnumMap<>(Component.class);
        sum.putAll(bytes);
        other.bytes.forEach((c, b) -> sum.merge(c, b, Long::sum));
        return new Footprint(sum);
    }
}
