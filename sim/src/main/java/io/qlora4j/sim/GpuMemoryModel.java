package io.qlora4j.sim;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.lora.LoraAdapters;

import java.util.EnumMap;
import java.util.Map;

/**
 * The memory of a bf16 PyTorch + bitsandbytes + PEFT fine-tuning run as qlora.py sets it up (QLORA-REFERENCE §5.3):
 * the setting behind the paper's memory numbers (§12 of QLORA-SPEC). Letters: L layers, C hidden, H intermediate,
 * Q = heads·head_dim, KV = kv_heads·head_dim, NH heads, V vocabulary, r LoRA rank, P the adapted projections with input
 * widths in_p, B sequences of T positions, R = B·T rows. Bytes: bf16 2, fp32 4.
 *
 * <h2>Persistent</h2>
 * <ul>
 *   <li><b>Base weights</b>, per projection of n = in·out weights (bitsandbytes {@code Params4bit} / {@code Int8Params}):
 *     <ul>
 *       <li>bf16: 2n;</li>
 *       <li>NF4: ⌈n/2⌉ packed codes + 4 bytes of fp32 absmax per block of 64 (4.5 bits/parameter);</li>
 *       <li>NF4 + double quantization: ⌈n/2⌉ + one uint8 absmax code per block + one fp32 second-level absmax per 256
 *           blocks + the fp32 offset: 4 + 8/64 + 32/(64·256) = 4.127 bits/parameter, 0.373 less than NF4 (QLoRA §3);</li>
 *       <li>Int8 (LLM.int8(), {@code Int8Params}): n int8 codes + one fp32 scale per output row.</li>
 *     </ul>
 *     The 16- and 256-entry code tables (about 1 KiB per tensor) are left out.</li>
 *   <li><b>Embeddings, lm_head, norms</b>: embedding and lm_head bf16 (2·V·C each; qlora.py casts them to bf16 after
 *       PEFT), RMSNorm weights fp32 (qlora.py casts every {@code norm} module to fp32): 4·(2L+1)·C. Full fine-tuning:
 *       everything 16-bit.</li>
 *   <li><b>LoRA parameters</b>: 2 bytes each (qlora.py casts the LoRA layers to bf16); count L·Σ_p r·(in_p + out_p).</li>
 *   <li><b>Gradients</b>: one bf16 gradient per trainable parameter (PyTorch keeps {@code .grad} in the parameter's
 *       dtype). Full fine-tuning: 2 bytes per model parameter.</li>
 *   <li><b>Optimizer state</b>: see {@link MemoryModel}. 16-bit full fine-tuning therefore costs 2 + 2 + 8 = 12 bytes
 *       per parameter before activations: 783 GB for LLaMA-65B, the paper's "more than 780 GB".</li>
 * </ul>
 *
 * <h2>One micro-batch (transformers 4.31 {@code LlamaForCausalLM}, eager attention, as the paper ran)</h2>
 * Per block, autograd keeps for backward (bytes per row):
 * <ul>
 *   <li>two RMSNorms, each its fp32 upcast input (HF {@code LlamaRMSNorm} computes in fp32) and its bf16 output:
 *       2·(4 + 2)·C;</li>
 *   <li>q after RoPE, k and v after {@code repeat_kv} (materialized to NH heads), the attention output: 2·(3Q + Q);</li>
 *   <li>SwiGLU: gate, silu(gate), up and their product: 4·2·H;</li>
 *   <li>with LoRA dropout, one bool mask per adapter input element: Σ_p in_p.</li>
 * </ul>
 * Separately, per block: attention scores, the fp32 softmax output (kept for the softmax backward) and the bf16
 * probabilities (kept for the PV matmul): B·NH·T²·(4 + 2); and the adapters' activations (PEFT {@code lora.Linear}):
 * each adapter's dropped-out input 2·in_p (kept by lora_A; without dropout lora_A keeps the base layer's input, already
 * counted) and A·x 2·r (kept by lora_B), Σ_p (2·in_p + 2·r) per row.
 * That last term is what the paper's §2 calls the "LoRA input gradients": at LLaMA-7B it is 2·(6C + H) = 71,168 bytes
 * per token per block, so 567 MB over 32 blocks and 17.7 MB for one block at T = 249, the two numbers the paper gives for
 * FLAN v2 (567 MB without checkpointing, ≈ 18 MB per sequence with it).
 * <ul>
 *   <li><b>Saved activations</b>: without checkpointing every block's tensors, L·R·(12C + 8Q + 8H + Σ_p in_p); with
 *       checkpointing ({@code torch.utils.checkpoint} per decoder layer, Chen et al. 2016) only each block's bf16
 *       input, L·R·2C.</li>
 *   <li><b>Recomputed block</b> (checkpointing only): one block's tensors, R·(12C + 8Q + 8H + Σ_p in_p), rebuilt in
 *       backward.</li>
 *   <li><b>Attention scores</b>: the kept probabilities of every block (one under checkpointing) plus one block's
 *       temporaries (forward: bf16 scores next to the fp32 softmax; backward: bf16 dprobs and fp32 dscores):
 *       (blocks + 1)·B·NH·T²·6. Quadratic in T: the term that makes long sequences spike.</li>
 *   <li><b>LoRA inputs</b>: (blocks)·R·Σ_p (2·in_p + 2·r), blocks = L, or 1 under checkpointing.</li>
 *   <li><b>Logits and loss</b>: final norm 6C, bf16 logits 2V, their fp32 upcast 4V ({@code logits.float()}), the
 *       shifted contiguous copy 4V and the fp32 log-softmax kept by the cross-entropy 4V: R·(6C + 14V).</li>
 *   <li><b>Backward scratch</b>: one block's gradient buffers that coexist: the incoming and outgoing residual gradients
 *       2·2C, the fp32 RMSNorm backward 4C, and the three SwiGLU gradients 3·2H: R·(8C + 6H).</li>
 *   <li><b>Dequantized weight</b>: bitsandbytes' {@code MatMul4Bit} (and the Int8 backward) dequantizes the whole weight
 *       to bf16 for each matmul, one at a time: 2·max_p(in_p·out_p). Zero for a 16-bit base.</li>
 * </ul>
 * Peak activation memory is the sum, the state at the start of backward. Korthikanti et al. 2022 ("Reducing Activation
 * Recomputation in Large Transformer Models") give the same kind of count for GPT blocks; these terms are its
 * LLaMA/SwiGLU/LoRA version.
 *
 * <h2>Evaluation</h2>
 * Forward under {@code no_grad} keeps nothing between blocks: one block's working set R·(10C + 8Q + 6H) (residual in
 * and out, norm temporaries, q/k/v/attention output, SwiGLU), its scores B·NH·T²·(2 + 4 + 2), logits R·6V (bf16 and
 * the fp32 upcast for the loss), and the dequantized weight.
 */
public final class GpuMemoryModel implements MemoryModel {
    private static final int BF16 = 2;
    private static final int FP32 = 4;
    /** bitsandbytes' 4-bit blocksize in QLoRA. */
    private static final int BLOCK = 64;
    /** bitsandbytes' double-quantization blocksize (blocks of first-level absmax values). */
    private static final int NESTED_BLOCK = 256;

    private final TrainingSetup setup;
    private final LlamaConfig c;
    private final long optimizerBuffer;
    private final Footprint persistent;

    GpuMemoryModel(TrainingSetup setup) {
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

    /** Storage of one projection of {@code in × out} weights in the given format (formulas in the class comment). */
    static long projectionBytes(BaseQuant quant, int in, int out) {
        long n = (long) in * out;
        long blocks = Math.ceilDiv(n, BLOCK);
        return switch (quant) {
            case BF16 -> BF16 * n;
            case NF4 -> Math.ceilDiv(n, 2) + FP32 * blocks;
            case NF4_DQ -> Math.ceilDiv(n, 2) + blocks + FP32 * Math.ceilDiv(blocks, NESTED_BLOCK) + FP32;
            case INT8 -> n + (long) FP32 * out;
        };
    }

    private Footprint computePersistent() {
        long base = 0;
        for (LinearLayerName n : LinearLayerName.values()) {
            base += c.numLayers() * projectionBytes(setup.quant(), LoraAdapters.inFeatures(c, n), LoraAdapters.outFeatures(c, n));
        }
        Map<Component, Long> m = new EnumMap<>(Component.class);
        m.put(Component.BASE_WEIGHTS, base);
        if (setup.fullFinetune()) {
            long params = ParameterCounts.total(c);
            m.put(Component.EMBEDDINGS_AND_NORMS, BF16 * (ParameterCounts.embeddings(c) + ParameterCounts.norms(c) + ParameterCounts.biases(c)));
            m.put(Component.GRADIENTS, BF16 * params);
        } else {
            long lora = ParameterCounts.lora(c, setup.rank(), setup.targets());
            m.put(Component.EMBEDDINGS_AND_NORMS, BF16 * ParameterCounts.embeddings(c) + FP32 * ParameterCounts.norms(c)
                    + BF16 * ParameterCounts.biases(c));
            m.put(Component.LORA_PARAMETERS, BF16 * lora);
            m.put(Component.GRADIENTS, BF16 * lora);
        }
        m.put(Component.OPTIMIZER_STATE, MemoryModel.pageRounded(optimizerBuffer));
        return new Footprint(m);
    }

    /** Bytes per row that one block keeps for backward, attention scores and adapter activations aside. */
    private long blockBytesPerRow() {
        long masks = setup.fullFinetune() || setup.loraDropout() == 0 ? 0 : ParameterCounts.adapterInputs(c, setup.targets());
        return 2L * (FP32 + BF16) * c.hiddenSize() + BF16 * 4L * c.qDim() + BF16 * 4L * c.intermediateSize() + masks;
    }

    /** Adapter activations of one block per row: Σ_p (2·in_p [dropped-out copy, only with dropout] + 2·r). */
    private long loraBytesPerRow() {
        if (setup.fullFinetune()) return 0;
        long inputs = setup.loraDropout() > 0 ? BF16 * ParameterCounts.adapterInputs(c, setup.targets()) : 0;
        return inputs + (long) BF16 * setup.rank() * setup.targets().size();
    }

    /** B·NH·T² elements: one block's attention matrix for the micro-batch. */
    private long scores(int batch, int length) {
        return (long) batch * c.numHeads() * length * length;
    }

    private long dequantBytes() {
        return setup.quant().quantized() ? BF16 * ParameterCounts.largestProjection(c) : 0;
    }

    @Override
    public Footprint activations(int batch, int length) {
        long rows = (long) batch * length;
        long blocks = setup.checkpointing() ? 1 : c.numLayers();
        Map<Component, Long> m = new EnumMap<>(Component.class);
        if (setup.checkpointing()) {
            m.put(Component.SAVED_ACTIVATIONS, c.numLayers() * rows * BF16 * c.hiddenSize());
            m.put(Component.RECOMPUTED_BLOCK, rows * blockBytesPerRow());
        } else {
            m.put(Component.SAVED_ACTIVATIONS, c.numLayers() * rows * blockBytesPerRow());
        }
        m.put(Component.ATTENTION_SCORES, (blocks + 1) * scores(batch, length) * (FP32 + BF16));
        m.put(Component.LORA_ACTIVATIONS, blocks * rows * loraBytesPerRow());
        m.put(Component.LOGITS_AND_LOSS, rows * ((FP32 + BF16) * (long) c.hiddenSize() + (BF16 + 3L * FP32) * c.vocabSize()));
        m.put(Component.BACKWARD_SCRATCH, rows * ((2L * BF16 + FP32) * c.hiddenSize() + 3L * BF16 * c.intermediateSize()));
        m.put(Component.DEQUANT_TEMPORARIES, dequantBytes());
        return new Footprint(m);
    }

    @Override
    public Footprint evalActivations(int batch, int length) {
        long rows = (long) batch * length;
        Map<Component, Long> m = new EnumMap<>(Component.class);
        m.put(Component.SAVED_ACTIVATIONS, rows * (10L * c.hiddenSize() + 4L * BF16 * c.qDim() + 3L * BF16 * c.intermediateSize()));
        m.put(Component.ATTENTION_SCORES, scores(batch, length) * (BF16 + FP32 + BF16));
        m.put(Component.LOGITS_AND_LOSS, rows * (long) (BF16 + FP32) * c.vocabSize());
        m.put(Component.DEQUANT_TEMPORARIES, dequantBytes());
        return new Footprint(m);
    }
}
