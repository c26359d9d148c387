package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.quant.Codebook;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The vector encoder's midpoints are exactly {@code Codebook.encode}'s boundaries: code i up to and including
 * midpoint i, code i+1 just above it, for both dynamic maps.
 */
class VectorAdamWTest {

    @Test
    void midpointsAreTheCodebookEncodeBoundaries() {
        check(Codebook.DYNAMIC_SIGNED, VectorAdamW.SIGNED_MIDPOINTS);
        check(Codebook.DYNAMIC_UNSIGNED, VectorAdamW.UNSIGNED_MIDPOINTS);
    }

    private static void check(Codebook code, float[] midpoints) {
        assertEquals(255, midpoints.length);
        for (int i = 0; i < midpoints.length; i++) {
            assertEquals(i, code.encode(midpoints[i]), code + " at midpoint " + i);
            assertEquals(i + 1, code.encode(Math.nextUp(midpoints[i])), code + " just above midpoint " + i);
        }
    }
}
