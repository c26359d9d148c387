package io.qlora4j.memory.tier;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ArenaDeviceTierTest {
    private static final int PAGE = 4096;

    @Test
    void neverHandsOutMoreSlotsThanTheCapacityHolds() {
        try (ArenaDeviceTier tier = new ArenaDeviceTier(3 * PAGE + PAGE / 2, PAGE)) {
            OptionalInt a = tier.allocate();
            OptionalInt b = tier.allocate();
            OptionalInt c = tier.allocate();
            assertTrue(a.isPresent() && b.isPresent() && c.isPresent());
            assertTrue(tier.allocate().isEmpty(), "a fourth page would exceed 3.5 pages of capacity");
            tier.free(b.getAsInt());
            assertEquals(b, tier.allocate(), "freed slots are reused");
            assertEquals(3, tier.slotsAllocated(), "reuse carves no new memory from the arena");
        }
    }

    @Test
    void copiesPagesInAndOutAndZeroes() {
        try (ArenaDeviceTier tier = new ArenaDeviceTier(2 * PAGE, PAGE)) {
            int slot = tier.allocate().orElseThrow();
            byte[] data = new byte[100];
            for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + 1);
            tier.copyIn(slot, MemorySegment.ofArray(data));
            byte[] back = new byte[100];
            tier.copyOut(slot, MemorySegment.ofArray(back));
            assertEquals(java.util.Arrays.toString(data), java.util.Arrays.toString(back));
            assertEquals(data[5], tier.view(slot).get(ValueLayout.JAVA_BYTE, 5));
            tier.zero(slot);
            assertEquals(0, tier.view(slot).get(ValueLayout.JAVA_BYTE, 5));
        }
    }

    @Test
    void misuseIsABug() {
        ArenaDeviceTier tier = new ArenaDeviceTier(2 * PAGE, PAGE);
        int slot = tier.allocate().orElseThrow();
        tier.free(slot);
        assertThrows(IllegalStateException.class, () -> tier.free(slot), "double free");
        assertThrows(IllegalStateException.class, () -> tier.view(slot), "use after free");
        tier.close();
        assertThrows(IllegalStateException.class, tier::allocate, "use after close");
        assertThrows(IllegalArgumentException.class, () -> new ArenaDeviceTier(PAGE, 1000), "page size not a multiple of 4096");
    }
}
