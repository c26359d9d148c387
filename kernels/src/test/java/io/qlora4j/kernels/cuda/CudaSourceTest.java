package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.quant.Codebook;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What can be checked about the CUDA kernels without a GPU: the Java side launches exactly the kernels the .cu file
 * defines, with the same parameter kinds (and a launch checks its arguments against them); the .cu file holds no second copy of a code table (the tables are uploaded from {@link Codebook}); and when the
 * {@code nvcc} profile ran, the fatbin is on the classpath, is a fatbin, and contains every kernel.
 */
class CudaSourceTest {

    private static final Path SOURCE = Path.of("src/main/cuda/qlora4j_kernels.cu");

    /** Every kernel the .cu defines, with its parameter kinds in {@link CudaKernel#params()} notation. */
    @Test
    void javaLaunchesExactlyTheKernelsTheSourceDefinesWithTheirParameters() throws IOException {
        String source = Files.readString(SOURCE);
        Matcher macro = Pattern.compile("#define QUANTIZED_PARAMS ((?:[^\\n]*\\\\\\n)*[^\\n]*)").matcher(source);
        assertTrue(macro.find(), "QUANTIZED_PARAMS macro");
        String quantized = macro.group(1).replace("\\\n", " ");
        assertEquals(CudaKernel.QUANTIZED, kinds(quantized), "QUANTIZED_PARAMS");
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(([^)]*)\\)").matcher(source);
        Map<String, String> defined = new TreeMap<>();
        while (m.find()) defined.put(m.group(1), kinds(m.group(2).replace("QUANTIZED_PARAMS", quantized)));
        Map<String, String> launched = new TreeMap<>();
        for (CudaKernel k : CudaKernel.values()) launched.put(k.symbol(), k.params());
        assertEquals(defined, launched);
    }

    /** A launch whose arguments do not match the kernel's parameters fails in Java, before the device is touched. */
    @Test
    void aLaunchWithTheWrongArgumentsFailsBeforeTheDevice() {
        var e = assertThrows(IllegalStateException.class,
                () -> Launch.of(CudaKernel.SWIGLU_FORWARD, "rows=1 hidden=1").none().none().f32(1f).run(null, 1));
        assertEquals("kernel swiglu_forward takes parameters (pppi) but the launch passes (ppf): p pointer, i int, l int64,"
                + " f float", e.getMessage());
    }

    /** "float* out, const float* in, int M, int64_t n, float eps" -> "ppilf". */
    private static String kinds(String params) {
        StringBuilder k = new StringBuilder();
        for (String p : params.split(",")) {
            String decl = p.strip().replaceAll("\\s+", " ");
            if (decl.contains("*")) k.append('p');
            else if (decl.startsWith("int64_t ")) k.append('l');
            else if (decl.startsWith("int ")) k.append('i');
            else if (decl.startsWith("float ")) k.append('f');
            else throw new AssertionError("unknown parameter type: " + decl);
        }
        return k.toString();
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
