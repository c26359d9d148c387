package io.qlora4j.kernels.quant;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every implementation of {@link BlockwiseKernels} against {@link ReferenceBlockwise}: identical code bytes and absmax,
 * bit-identical dequantized ranges, for every codebook, block size and awkward length (odd counts, partial blocks,
 * ranges starting mid-block and mid-byte), on Gaussian data mixed with zeros, ties and extreme values.
 */
class BlockwiseConformanceTest {

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (BlockwiseKernels k : Kernels.all()) {
            for (Codebook c : new Codebook[]{Codebook.NF4, Codebook.FP4, Codebook.INT4, Codebook.INT8,
                    Codebook.DYNAMIC_SIGNED}) {
                for (int blocksize : new int[]{32, 64, 256, 4096}) {
                    for (int n : new int[]{1, 31, 64, 65, 127, 1000, 4097, 20_001}) {
                        cases.add(Arguments.of(k.getClass().getSimpleName(), k, c, blocksize, n));
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {2} blocksize={3} n={4}")
    @MethodSource("cases")
    void matchesReference(String name, BlockwiseKernels kernels, Codebook code, int blocksize, int n) {
        SplittableRandom rnd = new SplittableRandom(n * 31L + blocksize);
        float[] x = awkwardData(rnd, n + 3, code);   // quantized from offset 3: src offsets must be honoured
        int blocks = BlockwiseKernels.blockCount(n, blocksize);
        byte[] refCodes = new byte[BlockwiseKernels.codeBytes(n, code)];
        float[] refAbsmax = new float[blocks];
        ReferenceBlockwise.INSTANCE.quantize(code, blocksize, x, 3, n, refCodes, 0, refAbsmax, 0);
        byte[] codes = new byte[refCodes.length];
        float[] absmax = new float[blocks];
        kernels.quantize(code, blocksize, x, 3, n, codes, 0, absmax, 0);
        assertArrayEquals(refCodes, codes, "code bytes");
        assertArrayEquals(refAbsmax, absmax, "absmax");

        BlockScales scales = new PlainScales(refAbsmax);
        for (int trial = 0; trial < 20; trial++) {
            int start = rnd.nextInt(n);
            int len = rnd.nextInt(n - start + 1);
            float[] expected = new float[len + 5];
            float[] actual = new float[len + 5];
            ReferenceBlockwise.INSTANCE.dequantize(code, blocksize, refCodes, scales, start, len, expected, 5);
            kernels.dequantize(code, blocksize, refCodes, scales, start, len, actual, 5);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                        "dequantized element " + (start + i - 5) + " of range [" + start + ", " + (start + len) + ")");
            }
        }
    }

    /** Gaussian values with zero runs, exact code values, exact midpoints (ties) and ±absmax sprinkled in. */
    static float[] awkwardData(SplittableRandom rnd, int n, Codebook code) {
        float[] x = new float[n];
        float[] values = code.decodedValues();
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble();
            if (u < 0.05) x[i] = 0f;
            else if (u < 0.10) x[i] = values[rnd.nextInt(values.length)];
            else if (u < 0.15 && code.midpoints() != null) x[i] = code.midpoints()[rnd.nextInt(code.midpoints().length)];
            else x[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        return x;
    }
}
