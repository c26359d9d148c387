package io.qlora4j.model.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.io.AtomicFiles;
import io.qlora4j.model.io.BitsandbytesFormat;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.RopePermutation;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorCodec;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Merges a LoRA adapter into its base model: W' = W + (alpha/r)·B·A in fp32, with W exactly the base the adapter was
 * trained against (the dequantized NF4 weight for a QLoRA adapter), written as a plain 32/16-bit Hugging Face model, or
 * re-quantized (PEFT's 4-bit merge, which loses precision: QLORA-REFERENCE.md §6.1). Streams tensor by tensor and refuses
 * non-finite results. A llama2.c input is written in Hugging Face layout (q/k rows permuted to rotate_half order, with
 * the adapter's q/k rows, which follow the model's own layout, permuted alike).
 */
public final class AdapterMerger {

    private static final List<String> COPIED = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.model", "tokenizer.bin", "generation_config.json");

    private AdapterMerger() {
    }

    /**
     * @param base       the model the adapter was trained on
     * @param baseFormat the storage the adapter saw during training (NF4+DQ for QLoRA, fp32 for 16/32-bit LoRA)
     * @param outDtype   dtype of the merged linear weights (F32, BF16 or F16) when not re-quantizing
     * @param requantize write the merged linear weights quantized (bitsandbytes format) instead
     */
    public static void merge(ModelFiles base, WeightFormat baseFormat, LoraAdapters adapters, Path outDir, DType outDtype,
                             Optional<WeightFormat.Quantized> requantize) {
        if (!outDtype.isFloat() || outDtype == DType.F64) throw new IllegalArgumentException("merge output dtype must be F32, BF16 or F16");
        var c = base.config();
        boolean llama2c = base.tensors().ropeLayout() == io.qlora4j.kernels.RopeLayout.INTERLEAVED;
        float scale = adapters.config().scaling();
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
        for (String name : base.tensors().names()) {
            if (BitsandbytesFormat.isAuxiliary(name)) continue;
            var linear = LinearLayerName.parse(name);
            if (linear.isEmpty()) {
                TensorInfo info = base.tensors().info(name);
                w.put(new TensorSpec(name, info.dtype(), info.shape()), () -> base.tensors().bytes(name));
                continue;
            }
            LinearLayerName n = linear.get().name();
            int layer = linear.get().layer();
            float[] weight = baseWeight(base, baseFormat, name);
            int rows, cols;
            LoraAdapter a = adapters.get(layer, n);
            TensorInfo info = BitsandbytesFormat.quantizedType(base.tensors(), name).isPresent() ? null : base.tensors().info(name);
            if (info != null) {
                rows = (int) info.shape()[0];
                cols = (int) (info.numel() / rows);
            } else {
                int[] shape = BitsandbytesFormat.read(base.tensors(), name).shape();
                rows = shape[0];
                cols = shape[1];
            }
            if (a != null) addLowRank(weight, a, scale, name);
            if (llama2c && (n == LinearLayerName.Q_PROJ || n == LinearLayerName.K_PROJ)) {
                weight = RopePermutation.interleavedToHalfSplit(weight, n == LinearLayerName.Q_PROJ ? c.numHeads() : c.numKvHeads(),
                        c.headDim(), cols);
            }
            if (requantize.isPresent()) {
                WeightFormat.Quantized q = requantize.get();
                BitsandbytesFormat.put(w, name, QuantizedTensor.quantize(weight, new int[]{rows, cols}, q.type(),
                        q.blocksize(), q.doubleQuant()), outDtype);
            } else {
                w.put(new TensorSpec(name, outDtype, rows, cols), TensorCodec.fromFloats(weight, outDtype));
            }
        }
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + outDir, e);
        }
        w.write(outDir.resolve(SafetensorsWriter.DEFAULT_WEIGHTS_NAME));
        ObjectNode config = base.rawConfig().deepCopy();
        config.remove("quantization_config");
        config.put("torch_dtype", BitsandbytesFormat.torchName(outDtype));
        requantize.ifPresent(q -> config.set("quantization_config",
                BitsandbytesFormat.quantizationConfig(q.type(), q.doubleQuant(), q.blocksize())));
        try {
            AtomicFiles.writeString(outDir.resolve("config.json"),
                    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path dir = Files.isDirectory(base.path()) ? base.path() : base.path().toAbsolutePath().getParent();
        for (String f : COPIED) if (Files.isRegularFile(dir.resolve(f))) AtomicFiles.copy(dir.resolve(f), outDir.resolve(f));
        base.tokenizer().filter(t -> !COPIED.contains(t.getFileName().toString()))
                .ifPresent(t -> AtomicFiles.copy(t, outDir.resolve(t.getFileName())));
    }

    /** The fp32 weight the adapter was trained against. */
    private static float[] baseWeight(ModelFiles base, WeightFormat format, String name) {
        if (BitsandbytesFormat.quantizedType(base.tensors(), name).isPresent()) {
            return BitsandbytesFormat.read(base.tensors(), name).dequantize();
        }
        float[] w = base.tensors().readFloats(name);
        if (format instanceof WeightFormat.Quantized q) {
            TensorInfo info = base.tensors().info(name);
            int rows = (int) info.shape()[0];
            return QuantizedTensor.quantize(w, new int[]{rows, w.length / rows}, q.type(), q.blocksize(), q.doubleQuant()).dequantize();
        }
        return w;
    }

    /** W (out, in) += s·B (out, r)·A (r, in), in fp32 with float64 sums; refuses a non-finite result. */
    static void addLowRank(float[] w, LoraAdapter a, float s, String name) {
        for (int i = 0; i < a.out(); i++) {
            for (int j = 0; j < a.in(); j++) {
                double d = 0;
                for (int r = 0; r < a.rank(); r++) d += (double) a.b()[i * a.rank() + r] * a.a()[r * a.in() + j];
                float v = w[i * a.in() + j] + (float) (s * d);
                if (!Float.isFinite(v)) {
                    throw new ModelConfigException("merging the adapter into " + name + " gives " + v + " at [" + i + ", " + j
                            + "]: refusing to write a broken model");
                }
                w[i * a.in() + j] = v;
            }
        }
    }

    /** Mapping of a user's --requantize value. */
    public static Optional<WeightFormat.Quantized> requantizeOption(String value) {
        if (value == null) return Optional.empty();
        return Optional.of(new WeightFormat.Quantized(QuantType.parse(value), true, QuantType.DEFAULT_BLOCKSIZE));
    }
}
