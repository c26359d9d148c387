package io.qlora4j.model;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.model.io.BitsandbytesFormat;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSource;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Arrays;
import java.util.Optional;

/**
 * Builds a {@link LlamaModel} from files on disk, tensor by tensor: each linear weight is read (fp32/fp16/bf16, or a
 * bitsandbytes 4-bit tensor set), quantized if the requested {@link WeightFormat} says so, and its fp32 copy dropped
 * before the next is read, so the fp32 model is never resident. Every tensor's presence, dtype and shape is checked
 * against config.json with an error naming the tensor and the file.
 */
public final class ModelLoader {

    /** What loading cost. {@code peakHeapBytes} is sampled after every tensor (garbage included: an upper bound). */
    public record LoadReport(WeightFormat format, long weightBytes, long linearBytes, long peakHeapBytes, double seconds) {
        @Override
        public String toString() {
            return String.format("loaded %s base: weights %.2f MiB (linear layers %.2f MiB), peak heap during load %.1f MiB, %.2f s",
                    format.label(), weightBytes / 1048576.0, linearBytes / 1048576.0, peakHeapBytes / 1048576.0, seconds);
        }
    }

    private final ModelFiles files;
    private final WeightFormat format;
    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    private long peakHeap;

    private ModelLoader(ModelFiles files, WeightFormat format) {
        this.files = files;
        this.format = format;
    }

    /** Loads the model in {@code format}; the report says how long it took and how much heap it needed. */
    public static LoadedModel load(ModelFiles files, WeightFormat format) {
        long start = System.nanoTime();
        ModelLoader loader = new ModelLoader(files, format);
        loader.peakHeap = loader.memory.getHeapMemoryUsage().getUsed();
        LlamaWeights weights = loader.weights();
        LlamaModel model = new LlamaModel(files.config(), weights, files.tensors().ropeLayout());
        LoadReport report = new LoadReport(format, weights.storageBytes(), weights.linearStorageBytes(), loader.peakHeap,
                (System.nanoTime() - start) * 1e-9);
        return new LoadedModel(model, report);
    }

    /** A model and how loading it went. */
    public record LoadedModel(LlamaModel model, LoadReport report) {
    }

    private LlamaWeights weights() {
        LlamaConfig c = files.config();
        if (c.mlpBias()) {
            throw new ModelConfigException(files.path() + ": config.json sets mlp_bias true, but qlora4j's MLP has no biases"
                    + " (no released LLaMA-family checkpoint uses them): this model cannot be loaded");
        }
        float[] embedding = floats("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize());
        DecoderLayerWeights[] layers = new DecoderLayerWeights[c.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            float[] qb = null, kb = null, vb = null;
            if (c.attentionBias()) {
                qb = floats(p + "self_attn.q_proj.bias", c.qDim());
                kb = floats(p + "self_attn.k_proj.bias", c.kvDim());
                vb = floats(p + "self_attn.v_proj.bias", c.kvDim());
            }
            layers[l] = new DecoderLayerWeights(
                    floats(p + "input_layernorm.weight", c.hiddenSize()),
                    linear(LinearLayerName.Q_PROJ, l, c.qDim(), c.hiddenSize()),
                    linear(LinearLayerName.K_PROJ, l, c.kvDim(), c.hiddenSize()),
                    linear(LinearLayerName.V_PROJ, l, c.kvDim(), c.hiddenSize()),
                    linear(LinearLayerName.O_PROJ, l, c.hiddenSize(), c.qDim()),
                    qb, kb, vb,
                    floats(p + "post_attention_layernorm.weight", c.hiddenSize()),
                    linear(LinearLayerName.GATE_PROJ, l, c.intermediateSize(), c.hiddenSize()),
                    linear(LinearLayerName.UP_PROJ, l, c.intermediateSize(), c.hiddenSize()),
                    linear(LinearLayerName.DOWN_PROJ, l, c.hiddenSize(), c.intermediateSize()));
        }
        float[] finalNorm = floats("model.norm.weight", c.hiddenSize());
        boolean hasHead = files.tensors().names().contains("lm_head.weight");
        boolean tied = c.tieWordEmbeddings() || !hasHead;
        LinearWeight head = tied ? new DenseWeight(embedding, c.vocabSize(), c.hiddenSize())
                : new DenseWeight(floats("lm_head.weight", c.vocabSize(), c.hiddenSize()), c.vocabSize(), c.hiddenSize());
        return new LlamaWeights(embedding, layers, finalNorm, head, tied);
    }

    private LinearWeight linear(LinearLayerName name, int layer, int rows, int cols) {
        String tensor = name.weightName(layer);
        TensorSource src = files.tensors();
        Optional<io.qlora4j.kernels.quant.QuantType> stored = BitsandbytesFormat.quantizedType(src, tensor);
        LinearWeight w;
        if (stored.isPresent()) {
            QuantizedTensor q = BitsandbytesFormat.read(src, tensor);
            checkShape(tensor, q.shape(), rows, cols);
            if (format instanceof WeightFormat.Quantized f && f.type() == q.type() && f.blocksize() == q.blocksize()
                    && f.doubleQuant() == q.doubleQuantized()) {
                w = new QuantizedWeight(q);
            } else {
                w = fromFloats(tensor, q.dequantize(), rows, cols);
            }
        } else {
            w = fromFloats(tensor, floats(tensor, rows, cols), rows, cols);
        }
        samplePeak();
        return w;
    }

    private LinearWeight fromFloats(String tensor, float[] values, int rows, int cols) {
        return switch (format) {
            case WeightFormat.Fp32 f -> new DenseWeight(values, rows, cols);
            case WeightFormat.Quantized f -> {
                try {
                    yield new QuantizedWeight(QuantizedTensor.quantize(values, new int[]{rows, cols}, f.type(),
                            f.blocksize(), f.doubleQuant()));
                } catch (IllegalArgumentException e) {
                    throw new ModelConfigException(files.path() + ": cannot quantize " + tensor + ": " + e.getMessage(), e);
                }
            }
        };
    }

    /** A floating-point tensor that must have exactly the given shape. */
    private float[] floats(String tensor, int... shape) {
        TensorSource src = files.tensors();
        if (!src.names().contains(tensor)) {
            throw new ModelConfigException(files.path() + ": missing tensor " + tensor + " (config.json describes a "
                    + files.config().architecture().className() + " that needs it)");
        }
        TensorInfo info = src.info(tensor);
        if (!info.dtype().isFloat()) {
            throw new ModelConfigException(files.path() + ": tensor " + tensor + " has dtype " + info.dtype() + ", expected a float type");
        }
        long[] actual = info.shape();
        long[] expected = Arrays.stream(shape).asLongStream().toArray();
        if (!Arrays.equals(actual, expected)) {
            throw new ModelConfigException(files.path() + ": tensor " + tensor + " has shape " + Arrays.toString(actual)
                    + " but config.json implies " + Arrays.toString(expected));
        }
        float[] v = src.readFloats(tensor);
        samplePeak();
        return v;
    }

    private void checkShape(String tensor, int[] shape, int rows, int cols) {
        if (shape.length != 2 || shape[0] != rows || shape[1] != cols) {
            throw new ModelConfigException(files.path() + ": quantized tensor " + tensor + " has shape " + Arrays.toString(shape)
                    + " but config.json implies [" + rows + ", " + cols + "]");
        }
    }

    private void samplePeak() {
        peakHeap = Math.max(peakHeap, memory.getHeapMemoryUsage().getUsed());
    }
}
