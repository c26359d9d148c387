package io.qlora4j.kernels.quant;

import java.util.ArrayList;
import java.util.List;

/** The blockwise implementations a conformance test runs: the reference always, the Vector API one where supported. */
final class Kernels {
    private Kernels() {
    }

    static List<BlockwiseKernels> all() {
        List<BlockwiseKernels> all = new ArrayList<>();
        all.add(ReferenceBlockwise.INSTANCE);
        if (VectorBlockwise.isSupported()) all.add(VectorBlockwise.INSTANCE);
        return all;
    }
}
