package io.qlora4j.model.quant;

import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.io.BitsandbytesFormat;
import io.qlora4j.model.io.SafetensorsFile;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The quantize pipeline on the real stories260K checkpoints (HF folder and llama2.c file). */
class CheckpointQuantizerTest {

    private static final CheckpointQuantizer.Options NF4_DQ = new CheckpointQuantizer.Options(QuantType.NF4, true, 64);

    private static QuantizeReport quantize(Path model, CheckpointQuantizer.Options options, Path out) {
        try (ModelFiles in = ModelFiles.open(model)) {
            return CheckpointQuantizer.quantize(in, options, out, (i, n, name, q) -> {
            });
        }
    }

    /**
     * The written checkpoint loads back to the same bytes: every quantized weight read back and re-serialized, and every
     * kept tensor copied, gives a byte-identical model.safetensors.
     */
    @Test
    void quantizedCheckpointLoadsBackToTheSameBytes(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("q");
        quantize(SharedData.require("models/stories260K-hf"), NF4_DQ, out);
        Path rewritten = tmp.resolve("rewritten.safetensors");
        try (ModelFiles q = ModelFiles.open(out)) {
            assertEquals(NF4_DQ.type().cliName(), q.rawConfig().path("quantization_config").path("bnb_4bit_quant_type").asText());
            SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
            int quantized = 0;
            for (String name : q.tensors().names()) {
                if (BitsandbytesFormat.isAuxiliary(name)) continue;
                if (BitsandbytesFormat.quantizedType(q.tensors(), name).isPresent()) {
                    BitsandbytesFormat.put(w, name, BitsandbytesFormat.read(q.tensors(), name),
                            BitsandbytesFormat.originalDtype(q.tensors(), name));
                    quantized++;
                } else {
                    TensorInfo info = q.tensors().info(name);
                    w.put(new TensorSpec(name, info.dtype(), info.shape()), () -> q.tensors().bytes(name));
                }
            }
            assertEquals(35, quantized, "7 projections × 5 layers");
            w.write(rewritten);
        }
        assertArrayEquals(Files.readAllBytes(out.resolve("model.safetensors")), Files.readAllBytes(rewritten));
        assertTrue(Files.exists(out.resolve("tok512.bin")), "the tokenizer travels with the model");
    }

    /** The llama2.c file and the HF folder hold the same model: after the q/k permutation the outputs are identical. */
    @Test
    void llama2cAndHuggingFaceInputsGiveTheSameCheckpoint(@TempDir Path tmp) throws IOException {
        quantize(SharedData.require("models/stories260K/stories260K.bin"), NF4_DQ, tmp.resolve("bin"));
        quantize(SharedData.require("models/stories260K-hf"), NF4_DQ, tmp.resolve("hf"));
        assertArrayEquals(Files.readAllBytes(tmp.resolve("hf/model.safetensors")), Files.readAllBytes(tmp.resolve("bin/model.safetensors")));
        try (ModelFiles a = ModelFiles.open(tmp.resolve("bin")); ModelFiles b = ModelFiles.open(tmp.resolve("hf"))) {
            assertEquals(b.config(), a.config());
        }
    }

    /** The stored codes are exactly an independent in-memory quantization of the input weight. */
    @Test
    void storedCodesEqualAnIndependentQuantization(@TempDir Path tmp) {
        Path model = SharedData.require("models/stories260K-hf");
        quantize(model, NF4_DQ, tmp.resolve("q"));
        String name = "model.layers.2.mlp.down_proj.weight";
        try (SafetensorsFile in = SafetensorsFile.open(model.resolve("model.safetensors"));
             SafetensorsFile out = SafetensorsFile.open(tmp.resolve("q/model.safetensors"))) {
            QuantizedTensor expected = QuantizedTensor.quantize(in.readFloats(name), new int[]{64, 172}, QuantType.NF4, 64, true);
            QuantizedTensor stored = BitsandbytesFormat.read(out, name);
            assertArrayEquals(expected.codes(), stored.codes());
            assertArrayEquals(expected.scales().expand(), stored.scales().expand());
            // kept tensors are copied bit for bit
            assertArrayEquals(in.bytes("model.norm.weight").toArray(ValueLayout.JAVA_BYTE),
                    out.bytes("model.norm.weight").toArray(ValueLayout.JAVA_BYTE));
        }
    }

    /**
     * The paper's data-type comparison on real weights (stories260K, blocksize 64): NF4 has the lowest relative error of
     * the 4-bit types, and double quantization costs less than 1% of it. (FP4 vs Int4 is reported, not asserted: on these
     * weights bitsandbytes' FP4, whose smallest non-zero magnitude is 1/192 and next 1/6, has a larger L2 error than
     * symmetric Int4; see BENCHMARKS.md.)
     */
    @Test
    void nf4HasTheLowestErrorAndDoubleQuantCostsUnderOnePercent(@TempDir Path tmp) {
        Path model = SharedData.require("models/stories260K-hf");
        double nf4 = quantize(model, new CheckpointQuantizer.Options(QuantType.NF4, false, 64), tmp.resolve("a")).total().error().relativeError();
        double nf4dq = quantize(model, NF4_DQ, tmp.resolve("b")).total().error().relativeError();
        double fp4 = quantize(model, new CheckpointQuantizer.Options(QuantType.FP4, false, 64), tmp.resolve("c")).total().error().relativeError();
        double int4 = quantize(model, new CheckpointQuantizer.Options(QuantType.INT4, false, 64), tmp.resolve("d")).total().error().relativeError();
        assertTrue(nf4 < fp4 && nf4 < int4, "nf4 " + nf4 + " fp4 " + fp4 + " int4 " + int4);
        assertTrue(Math.abs(nf4dq - nf4) / nf4 < 0.01, "nf4+dq " + nf4dq + " vs nf4 " + nf4);
    }

    @Test
    void bitsPerParameterTracksTheNominalFormula(@TempDir Path tmp) {
        QuantizeReport r = quantize(SharedData.require("models/stories260K-hf"), NF4_DQ, tmp.resolve("q"));
        assertEquals(226_560, r.total().parameters());
        // per tensor the 32-bit offset and a partial second-level block add a little over 4 + 8/64 + 32/16384
        assertTrue(r.total().bitsPerParameter() > 4.1269 && r.total().bitsPerParameter() < 4.16, r.table());
        assertTrue(r.table().contains("q_proj") && r.table().contains("total"));
    }

    @Test
    void alreadyQuantizedInputIsRefused(@TempDir Path tmp) {
        quantize(SharedData.require("models/stories260K-hf"), NF4_DQ, tmp.resolve("q"));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> quantize(tmp.resolve("q"), NF4_DQ, tmp.resolve("qq")));
        assertTrue(e.getMessage().contains("already quantized"), e.getMessage());
    }

    @Test
    void llama2cConfigIsDerivedFromTheHeader() {
        try (ModelFiles m = ModelFiles.open(SharedData.require("models/stories260K/stories260K.bin"))) {
            LlamaConfig c = m.config();
            assertEquals(64, c.hiddenSize());
            assertEquals(172, c.intermediateSize());
            assertEquals(4, c.numKvHeads());
            assertTrue(c.tieWordEmbeddings());
            assertTrue(m.tokenizer().orElseThrow().getFileName().toString().equals("tok512.bin"));
        }
    }
}
