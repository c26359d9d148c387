package io.qlora4j.sim;

import io.qlora4j.kernels.quant.DoubleQuantScales;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.WeightFormat;

import java.util.EnumMap;
import java.util.Map;

/**
 * Exactly what our CPU trainer accounts with the memory manager ({@code TrainStep}), all fp32. The test
 * {@code CpuMemoryModelTest} checks it against the trainer's own numbers ({@code LlamaWeights.storageBytes},
 * {@code Transformer.activationBytes}); {@code Calibration} against a real run's measured peak. Letters as in
 * {@link GpuMemoryModel}; every element 4 bytes.
 *
 * <h2>Persistent ({@code TrainStep}'s leases)</h2>
 * <ul>
 *   <li><b>Base weights</b> ({@code QuantizedTensor.storageBits}/8 per projection of n weights): packed codes
 *       ⌈n/2⌉ (4-bit) or n (Int8), plus per block of b the fp32 absmax (4·⌈n/b⌉), or with double quantization one
 *       code byte per block, 4 bytes per 256 blocks and the 4-byte offset; a dense base 4n.</li>
 *   <li><b>Embeddings, lm_head, norms</b>: fp32: 4·(V·C·(tied ? 1 : 2) + (2L+1)·C + biases).</li>
 *   <li><b>LoRA parameters</b> and their <b>gradients</b>: 4 bytes each (the "model weights" lease adds the adapters,
 *       the "gradients" lease is 4 bytes per trainable parameter). Full fine-tuning: every parameter's gradient.</li>
 *   <li><b>Optimizer state</b>: see {@link MemoryModel}.</li>
 * </ul>
 *
 * <h2>One micro-batch ({@code ActivationBuffers}, {@code LayerActivations}, {@code BackwardScratch})</h2>
 * Per block (bytes per row): attnIn C, attnRstd 1, q Q, k and v KV each, att Q, h C, mlpIn C, mlpRstd 1, gate/up/act H
 * each: 4·(3C + 2Q + 2KV + 3H + 2); attention probabilities 4·B·NH·T² per block; the adapters' s·A·x, 4·r per adapted
 * projection. Blocks held: L without checkpointing, one shared set with it.
 * <ul>
 *   <li><b>Saved activations</b>: every block's input and the final norm's input, 4·(L+1)·R·C, plus without
 *       checkpointing the L blocks' tensors.</li>
 *   <li><b>Recomputed block</b>: under checkpointing the one shared set of block tensors.</li>
 *   <li><b>Attention scores</b>, <b>LoRA inputs</b>: the probabilities and s·A·x of the blocks held.</li>
 *   <li><b>Logits and loss</b>: final norm output and rstd, logits (also the logits' gradient, in place), per-row losses
 *       and log-sum-exp: 4·R·(C + V + 3).</li>
 *   <li><b>Backward scratch</b>: dAct, dGate, dUp (H each), dNorm C, dAtt and dq Q each, dk and dv KV each, dLora
 *       max(r, 1) and the dropout/input-gradient scratch max(C, Q, H): 4·R·(3H + C + 2Q + 2KV + max(r,1) + max(C,Q,H)).</li>
 *   <li><b>Dequantized weight</b>: none; the kernels decode tiles on the fly.</li>
 * </ul>
 * Evaluation ({@code forwardLoss}) allocates the block inputs, one set of block tensors without probabilities, the
 * adapters' activations and the logits group, and no scratch; the trainer does not lease it.
 */
public final class CpuMemoryModel implements MemoryModel {
    private static final int FP32 = 4;

    private final TrainingSetup setup;
    private final LlamaConfig c;
    private final long optimizerBuffer;
    private final Footprint persistent;

    CpuMemoryModel(TrainingSetup setup) {
        this.setup = setup;
        this.c = setup.model();
        this.optimizerBuffer = MemoryModel.optimizerBufferBytes(setup);
        this.persistent = computePersistent();
    }

    @Override
    public TrainingSetup setup() {
        return setup;
    }

    @Override
    public Footprint persistent() {
        return persistent;
    }

    @Override
    public long optimizerBufferBytes() {
        return optimizerBuffer;
    }

    /** {@code QuantizedTensor.storageBits() / 8} (or a dense fp32 weight's bytes) for n weights. */
    static long projectionBytes(WeightFormat format, long n) {
        return switch (format) {
            case WeightFormat.Fp32 f -> FP32 * n;
            case WeightFormat.Quantized q -> {
                long codes = q.type().bits() == 4 ? (n + 1) / 2 : n;
                long blocks = Math.ceilDiv(n, q.blocksize());
                long scales = q.doubleQuant() ? blocks + FP32 * Math.ceilDiv(blocks, DoubleQuantScales.BLOCKSIZE) + FP32 : FP32 * blocks;
                yield codes + scales;
            }
        };
    }

    private Footprint computePersistent() {
        WeightFormat format = setup.quant().cpuFormat();
        long base = 0;
        for (LinearLayerName n : LinearLayerName.values()) base += c.numLayers() * projectionBytes(format, ParameterCounts.projection(c, n));
        long trainable = setup.fullFinetune() ? ParameterCounts.total(c) : ParameterCounts.lora(c, setup.rank(), setup.targets());
        Map<Component, Long> m = new EnumMap<>(Component.class);
        m.put(Component.BASE_WEIGHTS, base);
        m.put(Component.EMBEDDINGS_AND_NORMS, FP32 * (ParameterCounts.embeddings(c) + ParameterCounts.norms(c) + ParameterCounts.biases(c)));
        if (!setup.fullFinetune()) m.put(Component.LORA_PARAMETERS, FP32 * trainable);
        m.put(Component.GRADIENTS, FP32 * trainable);
        m.put(Component.OPTIMIZER_STATE, MemoryModel.pageRounded(optimizerBuffer));
        return new Footprint(m);
    }

    /** LayerActivations without probabilities and adapters, per row. */
    private long blockFloatsPerRow() {
        return 3L * c.hiddenSize() + 2L * c.qDim() + 2L * c.kvDim() + 3L * c.intermediateSize() + 2;
    }

    /** The trainer's adapter context: rank 0 and nothing adapted in full fine-tuning. */
    private int rank() {
        return setup.fullFinetune() ? 0 : setup.rank();
    }

    private long loraFloatsPerRow() {
        return setup.fullFinetune() ? 0 : (long) setup.rank() * setup.targets().size();
    }

    @Override
    public Footprint activations(int batch, int length) {
        long rows = (long) batch * length;
        long blocks = setup.checkpointing() ? 1 : c.numLayers();
        long probs = (long) batch * c.numHeads() * length * length;
        long inputs = (c.numLayers() + 1L) * rows * c.hiddenSize();
        long blockTensors = blocks * rows * blockFloatsPerRow();
        long wide = Math.max(c.hiddenSize(), Math.max(c.qDim(), c.intermediateSize()));
        Map<Component, Long> m = new EnumMap<>(Component.class);
        if (setup.checkpointing()) {
            m.put(Component.SAVED_ACTIVATIONS, FP32 * inputs);
            m.put(Component.RECOMPUTED_BLOCK, FP32 * blockTensors);
        } else {
            m.put(Component.SAVED_ACTIVATIONS, FP32 * (inputs + blockTensors));
        }
        m.put(Component.ATTENTION_SCORES, FP32 * blocks * probs);
        m.put(Component.LORA_ACTIVATIONS, FP32 * blocks * rows * loraFloatsPerRow());
        m.put(Component.LOGITS_AND_LOSS, FP32 * rows * (c.hiddenSize() + (long) c.vocabSize() + 3));
        m.put(Component.BACKWARD_SCRATCH, FP32 * rows * (3L * c.intermediateSize() + c.hiddenSize() + 2L * c.qDim()
                + 2L * c.kvDim() + Math.max(rank(), 1) + wide));
        return new Footprint(m);
    }

    @Override
    public Footprint evalActivations(int batch, int length) {
        long rows = (long) batch * length;
        Map<Component, Long> m = new EnumMap<>(Component.class);
        m.put(Component.SAVED_ACTIVATIONS, FP32 * ((c.numLayers() + 1L) * rows * c.hiddenSize() + rows * blockFloatsPerRow()));
        m.put(Component.LORA_ACTIVATIONS, FP32 * rows * loraFloatsPerRow());
        m.put(Component.LOGITS_AND_LOSS, FP32 * rows * (c.hiddenSize() + (long) c.vocabSize() + 3));
        return new Footprint(m);
    }
}
