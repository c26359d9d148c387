package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.quant.Codebook;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What can be checked about the CUDA kernels without a GPU: the Java side launches exactly the kernels the .cu file
 * defines; the .cu file holds no second copy of a code table (the tables are uploaded from {@link Codebook}); and when the
 * {@code nvcc} profile ran, the fatbin is on the classpath, is a fatbin, and contains every kernel.
 */
class CudaSourceTest {

    private static final Path SOURCE = Path.of("src/main/cuda/qlora4j_kernels.cu");

    @Test
    void javaLaunchesExactlyTheKernelsTheSourceDefines() throws IOException {
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(").matcher(Files.readString(SOURCE));
        Set<String> defined = new TreeSet<>();
        while (m.find()) defined.add(m.group(1));
        Set<String> launched = Arrays.stream(CudaKernel.values()).map(CudaKernel::symbol)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(launched, defined);
    }

    /** One copy of every constant: no table in device memory and no code value written out in the source. */
    @Test
    void sourceHoldsNoCodeTable() throws IOException {
        String source = Files.readString(SOURCE);
        assertFalse(source.contains("__constant__"), "the .cu declares __constant__ memory");
        for (Codebook code : new Codebook[]{Codebook.NF4, Codebook.FP4}) {
            for (float v : code.decodedValues()) {
                if (v == 0f || Math.abs(v) == 1f) continue;
                String digits = String.format(Locale.ROOT, "%.5f", Math.abs(v)).substring(1);   // ".07958"
                assertFalse(source.contains(digits), code + " value " + v + " is written in the .cu source");
            }
        }
    }

    @Test
    void fatbinIsPackagedWhenTheNvccProfileRan() throws IOException {
        assumeTrue("built".equals(System.getProperty("qlora4j.cuda.kernels")),
                "skipped: the kernels module was built without the nvcc profile (no nvcc found)");
        byte[] fatbin;
        try (InputStream in = CudaDevice.class.getResourceAsStream(CudaDevice.MODULE_RESOURCE)) {
            assertNotNull(in, "resource io/qlora4j/kernels/cuda/" + CudaDevice.MODULE_RESOURCE);
            fatbin = in.readAllBytes();
        }
        // fatbin magic 0xBA55ED50, little-endian
        assertEquals(0x50, fatbin[0] & 0xFF);
        assertEquals(0xED, fatbin[1] & 0xFF);
        assertEquals(0x55, fatbin[2] & 0xFF);
        assertEquals(0xBA, fatbin[3] & 0xFF);
        String text = new String(fatbin, StandardCharsets.ISO_8859_1);
        for (CudaKernel k : CudaKernel.values()) assertTrue(text.contains(k.symbol()), k.symbol() + " missing from the fatbin");
        for (String arch : new String[]{"sm_80", "sm_90"}) assertTrue(text.contains(arch), arch + " missing from the fatbin");
    }
}
