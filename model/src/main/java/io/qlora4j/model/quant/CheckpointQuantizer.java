package io.qlora4j.model.quant;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizationError;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.io.AtomicFiles;
import io.qlora4j.model.io.BitsandbytesFormat;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.model.io.RopePermutation;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Quantizes a model's seven linear projections per layer into a bitsandbytes-format checkpoint (a Hugging Face folder:
 * config.json with {@code quantization_config}, model.safetensors, and the tokenizer files), streaming the input one
 * tensor at a time: the fp32 model is never resident, so peak memory is about the output size plus the largest tensor.
 * Embeddings, norms and lm_head are copied unchanged, as bitsandbytes leaves them. A llama2.c input has its q/k rows
 * permuted to the Hugging Face rotate_half order, so the output is a regular HF checkpoint.
 */
public final class CheckpointQuantizer {

    /** Called after each tensor, for progress output. */
    @FunctionalInterface
    public interface Progress {
        void tensorDone(int index, int total, String name, boolean quantized);
    }

    public record Options(QuantType type, boolean doubleQuant, int blocksize) {
        public Options {
            QuantType.checkBlocksize(blocksize);
        }
    }

    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "tokenizer.bin", "generation_config.json");

    private CheckpointQuantizer() {
    }

    public static QuantizeReport quantize(ModelFiles in, Options options, Path outDir, Progress progress) {
        long start = System.nanoTime();
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long peak = memory.getHeapMemoryUsage().getUsed();
        LlamaConfig config = in.config();
        boolean llama2c = in.tensors().ropeLayout() == RopeLayout.INTERLEAVED;
        for (String name : in.tensors().names()) {
            if (BitsandbytesFormat.isAuxiliary(name)) {
                throw new ModelConfigException(in.path() + " is already quantized (tensor " + name
                        + "): quantize a 16/32-bit model");
            }
        }
        prepareOutput(in.path(), outDir);

        SafetensorsWriter writer = new SafetensorsWriter(Map.of("format", "pt"));
        Map<LinearLayerName, QuantizationStats> perKind = new EnumMap<>(LinearLayerName.class);
        long kept = 0;
        long inputBytes = 0;
        List<String> names = new ArrayList<>(in.tensors().names());
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            TensorInfo info = in.tensors().info(name);
            inputBytes += info.byteSize();
            var linear = LinearLayerName.parse(name);
            if (linear.isPresent()) {
                if (!info.dtype().isFloat()) {
                    throw new ModelConfigException(in.path() + ": linear weight " + name + " has dtype " + info.dtype()
                            + ", expected F32, F16 or BF16");
                }
                int[] shape = {Math.toIntExact(info.shape()[0]), Math.toIntExact(info.numel() / info.shape()[0])};
                float[] w = in.tensors().readFloats(name);
                if (llama2c && (linear.get().name() == LinearLayerName.Q_PROJ || linear.get().name() == LinearLayerName.K_PROJ)) {
                    int heads = linear.get().name() == LinearLayerName.Q_PROJ ? config.numHeads() : config.numKvHeads();
                    w = RopePermutation.interleavedToHalfSplit(w, heads, config.headDim(), shape[1]);
                }
                QuantizedTensor q;
                try {
                    q = QuantizedTensor.quantize(w, shape, options.type(), options.blocksize(), options.doubleQuant());
                } catch (IllegalArgumentException e) {
                    throw new ModelConfigException(in.path() + ": cannot quantize " + name + ": " + e.getMessage(), e);
                }
                QuantizationStats s = new QuantizationStats(1, w.length, q.storageBits(),
                        QuantizationError.measure(w, q.dequantize()));
                perKind.merge(linear.get().name(), s, QuantizationStats::plus);
                BitsandbytesFormat.put(writer, name, q, info.dtype());
            } else {
                kept += info.numel();
                writer.put(new TensorSpec(name, info.dtype(), info.shape()), () -> in.tensors().bytes(name));
            }
            peak = Math.max(peak, memory.getHeapMemoryUsage().getUsed());
            progress.tensorDone(i + 1, names.size(), name, linear.isPresent());
        }
        if (perKind.isEmpty()) {
            throw new ModelConfigException(in.path() + ": no linear projection weights (model.layers.N.self_attn.q_proj.weight ...) found");
        }
        Path weights = outDir.resolve(SafetensorsWriter.DEFAULT_WEIGHTS_NAME);
        writer.write(weights);
        writeConfig(in, options, outDir);
        copyTokenizer(in, outDir);
        peak = Math.max(peak, memory.getHeapMemoryUsage().getUsed());
        long outputBytes;
        try {
            outputBytes = Files.size(weights);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new QuantizeReport(options.type(), options.doubleQuant(), options.blocksize(), perKind, kept,
                inputBytes, outputBytes, peak, (System.nanoTime() - start) * 1e-9);
    }

    private static void prepareOutput(Path input, Path outDir) {
        try {
            if (Files.exists(outDir) && Files.isSameFile(outDir, input)) {
                throw new ModelConfigException("--out " + outDir + " is the input model: choose another folder");
            }
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create output folder " + outDir + ": " + e.getMessage(), e);
        }
    }

    private static void writeConfig(ModelFiles in, Options options, Path outDir) {
        ObjectNode config = in.rawConfig().deepCopy();
        config.set("quantization_config", BitsandbytesFormat.quantizationConfig(options.type(), options.doubleQuant(),
                options.blocksize()));
        try {
            AtomicFiles.writeString(outDir.resolve("config.json"),
                    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copyTokenizer(ModelFiles in, Path outDir) {
        Path dir = Files.isDirectory(in.path()) ? in.path() : in.path().toAbsolutePath().getParent();
        for (String name : TOKENIZER_FILES) {
            Path f = dir.resolve(name);
            if (Files.isRegularFile(f)) AtomicFiles.copy(f, outDir.resolve(name));
        }
        in.tokenizer().filter(t -> !TOKENIZER_FILES.contains(t.getFileName().toString()))
                .ifPresent(t -> AtomicFiles.copy(t, outDir.resolve(t.getFileName())));
    }
}
