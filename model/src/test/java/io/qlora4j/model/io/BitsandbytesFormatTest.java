package io.qlora4j.model.io;

import io.qlora4j.kernels.quant.DoubleQuantScales;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Byte compatibility with bitsandbytes' 4-bit serialization, against ../shared/data/golden/bnb/nf4_doublequant_160x200
 * (a bf16 [160, 200] weight quantized NF4 + double quantization by a pure-PyTorch restatement of bitsandbytes' default
 * backend and saved as transformers saves a Linear4bit; QLORA-REFERENCE.md §10).
 */
class BitsandbytesFormatTest {

    private static final String GOLDEN = "golden/bnb/nf4_doublequant_160x200.safetensors";
    private static final List<String> LAYER_TENSORS = List.of("layer.weight", "layer.weight.absmax",
            "layer.weight.quant_map", "layer.weight.nested_absmax", "layer.weight.nested_quant_map",
            "layer.weight.quant_state.bitsandbytes__nf4");

    /** Quantizing the golden input with our kernels and serializing gives the golden tensors byte for byte. */
    @Test
    void ourSerializationOfTheGoldenInputIsByteIdentical(@TempDir Path tmp) {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.require(GOLDEN))) {
            float[] w = golden.readFloats("input.weight_bf16");   // bf16 -> fp32 is exact
            QuantizedTensor q = QuantizedTensor.quantize(w, new int[]{160, 200}, QuantType.NF4, 64, true);
            Path out = tmp.resolve("ours.safetensors");
            SafetensorsWriter writer = new SafetensorsWriter();
            BitsandbytesFormat.put(writer, "layer.weight", q, DType.BF16);
            writer.write(out);
            try (SafetensorsFile ours = SafetensorsFile.open(out)) {
                for (String name : LAYER_TENSORS) {
                    assertEquals(golden.info(name).dtype(), ours.info(name).dtype(), name);
                    assertArrayEquals(golden.info(name).shape(), ours.info(name).shape(), name);
                    assertArrayEquals(golden.bytes(name).toArray(ValueLayout.JAVA_BYTE), ours.bytes(name).toArray(ValueLayout.JAVA_BYTE), name);
                }
            }
        }
    }

    /** Reading the golden file and dequantizing reproduces bitsandbytes' reconstructed absmax and bf16 outputs exactly. */
    @Test
    void readingTheGoldenFileReproducesItsExpectedOutputs() {
        try (SafetensorsFile golden = SafetensorsFile.open(SharedData.require(GOLDEN))) {
            QuantizedTensor q = BitsandbytesFormat.read(golden, "layer.weight");
            assertEquals(QuantType.NF4, q.type());
            assertEquals(64, q.blocksize());
            assertArrayEquals(new int[]{160, 200}, q.shape());
            assertEquals(DType.BF16, BitsandbytesFormat.originalDtype(golden, "layer.weight"));
            DoubleQuantScales dq = (DoubleQuantScales) q.scales();
            assertEquals(0.05179199f, dq.offset(), 1e-8f);
            assertArrayEquals(golden.readFloats("expected.absmax_reconstructed"), dq.expand(), "absmax reconstructed bit for bit");
            // bitsandbytes dequantizes to the weight's dtype: our fp32 product rounded to bf16 must equal it
            float[] expected = golden.readFloats("expected.dequant_bf16_doublequant");
            float[] ours = q.dequantize();
            for (int i = 0; i < ours.length; i++) {
                float rounded = BFloat16.toFloat(BFloat16.fromFloat(ours[i]));
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(rounded), "element " + i);
            }
        }
    }

    @Test
    void plainAbsmaxRoundTripsForEveryType(@TempDir Path tmp) {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] w = new float[33 * 70];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        for (QuantType type : QuantType.values()) {
            for (boolean dq : new boolean[]{false, true}) {
                QuantizedTensor q = QuantizedTensor.quantize(w, new int[]{33, 70}, type, 64, dq);
                Path out = tmp.resolve(type + "-" + dq + ".safetensors");
                SafetensorsWriter writer = new SafetensorsWriter();
                BitsandbytesFormat.put(writer, "m.weight", q, DType.F32);
                writer.write(out);
                try (SafetensorsFile f = SafetensorsFile.open(out)) {
                    QuantizedTensor back = BitsandbytesFormat.read(f, "m.weight");
                    assertArrayEquals(q.codes(), back.codes(), type + " codes");
                    assertArrayEquals(q.scales().expand(), back.scales().expand(), type + " absmax");
                    assertArrayEquals(q.dequantize(), back.dequantize(), type + " values");
                    assertTrue(f.names().stream().allMatch(n -> n.equals("m.weight") || BitsandbytesFormat.isAuxiliary(n)));
                }
            }
        }
    }

    @Test
    void inconsistentStateIsRefusedWithTheTensorNamed(@TempDir Path tmp) {
        QuantizedTensor q = QuantizedTensor.quantize(new float[128], new int[]{2, 64}, QuantType.NF4, 64, false);
        Path out = tmp.resolve("bad.safetensors");
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.put(new TensorSpec("m.weight", DType.U8, 64, 1), q.codes());
        writer.put(new TensorSpec("m.weight.absmax", DType.F32, 2), new float[2]);
        writer.put(new TensorSpec("m.weight.quant_map", DType.F32, 16), new float[16]);   // not the NF4 table
        byte[] json = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [2, 64]}".getBytes(StandardCharsets.UTF_8);
        writer.put(new TensorSpec("m.weight.quant_state.bitsandbytes__nf4", DType.U8, json.length), json);
        writer.write(out);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> BitsandbytesFormat.read(f, "m.weight"));
            assertTrue(e.getMessage().contains("m.weight.quant_map"), e.getMessage());
        }
    }

    @Test
    void pythonFloatRepr() {
        assertEquals("0.05179199203848839", PythonFloat.repr((double) 0.05179199203848839f));
        assertEquals("1e-05", PythonFloat.repr(1e-5));
        assertEquals("0.0001", PythonFloat.repr(1e-4));
        assertEquals("1.5e-07", PythonFloat.repr(1.5e-7));
        assertEquals("123.0", PythonFloat.repr(123.0));
        assertEquals("1e+16", PythonFloat.repr(1e16));
        assertEquals("-2.5", PythonFloat.repr(-2.5));
        assertEquals("0.0", PythonFloat.repr(0.0));
    }
}
