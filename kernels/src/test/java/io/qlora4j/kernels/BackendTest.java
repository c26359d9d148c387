package io.qlora4j.kernels;

import io.qlora4j.kernels.cpu.ReferenceAttention;
import io.qlora4j.kernels.cpu.ReferenceMatmul;
import io.qlora4j.kernels.cpu.VectorAttention;
import io.qlora4j.kernels.cpu.VectorMatmul;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Backend} bundles every family and says which implementations it holds. */
class BackendTest {

    @Test
    void referenceIsAllPlainLoops() {
        Backend r = Backend.reference();
        assertSame(ReferenceMatmul.INSTANCE, r.matmul());
        assertSame(ReferenceAttention.INSTANCE, r.attention());
        assertTrue(r.toString().startsWith("reference"), r.toString());
        allPresent(r);
    }

    @Test
    void cpuUsesVectorKernelsExactlyWhenSupported() {
        Backend c = Backend.cpu();
        allPresent(c);
        if (Backend.vectorSupported()) {
            assertSame(VectorMatmul.INSTANCE, c.matmul());
            assertSame(VectorAttention.INSTANCE, c.attention());
            assertTrue(c.description().contains("Vector API 512-bit"), c.description());
        } else {
            assertSame(ReferenceMatmul.INSTANCE, c.matmul());
            assertTrue(c.description().contains("no 512-bit vectors"), c.description());
        }
    }

    private static void allPresent(Backend b) {
        for (Object family : new Object[]{b.matmul(), b.rmsnorm(), b.rope(), b.attention(), b.swiglu(),
                b.crossEntropy(), b.embedding(), b.adamw()}) {
            assertNotNull(family);
        }
    }
}
