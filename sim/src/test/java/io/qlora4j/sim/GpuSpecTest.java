package io.qlora4j.sim;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GpuSpecTest {

    @Test
    void sizesAreDecimalOrBinaryAsWritten() {
        assertEquals(48_000_000_000L, GpuSpec.parse("48GB").memoryBytes());
        assertEquals(24L << 30, GpuSpec.parse("24GiB").memoryBytes());
        assertEquals(80_000_000_000L, GpuSpec.parse("80gb").memoryBytes());
        assertEquals(1_500_000_000_000L, GpuSpec.parse("1.5TB").memoryBytes());
        assertEquals(512L << 20, GpuSpec.parse("512 MiB").memoryBytes());
        assertEquals(GpuSpec.PCIE4_BYTES_PER_SECOND, GpuSpec.parse("48GB").linkBytesPerSecond());
    }

    @Test
    void namedCardsCarryTheirSpecs() {
        GpuSpec a100 = GpuSpec.parse("a100-80gb");
        assertEquals(80L << 30, a100.memoryBytes());
        assertEquals(312e12, a100.peakFlops());
        assertEquals(24L << 30, GpuSpec.parse("RTX4090").memoryBytes());
        assertEquals(50e9, GpuSpec.parse("h100-80gb").linkBytesPerSecond());
        assertEquals(10e9, GpuSpec.parse("a6000").withLink(10e9).linkBytesPerSecond());
    }

    @Test
    void badNamesListTheChoices() {
        SimulationException e = assertThrows(SimulationException.class, () -> GpuSpec.parse("48 gigs"));
        assertTrue(e.getMessage().contains("'48 gigs'") && e.getMessage().contains("rtx4090") && e.getMessage().contains("24GiB"),
                e.getMessage());
        assertThrows(SimulationException.class, () -> GpuSpec.parse("0GB"));
        assertThrows(SimulationException.class, () -> GpuSpec.parse("a6000").withLink(0));
    }
}
