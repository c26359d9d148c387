package io.qlora4j.model.compute;

import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.RopeTable;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.data.Batch;

/**
 * The training pass of a LLaMA decoder over a padded {@link Batch}: embedding → blocks → final norm → lm_head →
 * cross-entropy on the target positions, and the hand-written backward of all of it (llm.c style). Gradients flow
 * through the frozen (possibly 4-bit) weights into the LoRA adapters, and into the base weights too in full fine-tuning.
 *
 * <p>The loss returned is the sum over the batch's target tokens; the gradient is scaled by {@code gradScale}, which the
 * trainer sets to 1/(target tokens of the whole optimizer step) so that gradient accumulation over micro-batches gives
 * the same update as one large batch.
 */
public final class Transformer {

    private final LlamaModel model;
    private final LlamaConfig c;
    private final Backend be;
    private final DecoderLayer block;

    public Transformer(LlamaModel model) {
        this.model = model;
        this.c = model.config();
        this.be = model.backend();
        this.block = new DecoderLayer(model);
    }

    /** Sum of the target tokens' losses (nats) and their number. */
    public record Loss(double sum, int tokens) {
        public double mean() {
            return tokens == 0 ? Double.NaN : sum / tokens;
        }
    }

    /** Forward and backward of one micro-batch; adapter (and, in full fine-tuning, base) gradients accumulate. */
    public Loss forwardBackward(Batch batch, AdapterContext ctx, Gradients g, boolean checkpointing, float gradScale) {
        checkBatch(batch);
        ActivationBuffers buf = new ActivationBuffers(c, batch.batchSize(), batch.seqLen(), ctx.rank(),
                ctx.adaptedProjections(), checkpointing, true);
        int[] positions = RopeTable.sequentialPositions(batch.batchSize(), batch.seqLen(), 0);
        Loss loss = forward(batch, ctx, buf, positions);
        backward(batch, ctx, g, buf, positions, gradScale);
        return loss;
    }

    /** Forward only (evaluation): the loss over the batch's target tokens. */
    public Loss forwardLoss(Batch batch, AdapterContext ctx) {
        checkBatch(batch);
        ActivationBuffers buf = new ActivationBuffers(c, batch.batchSize(), batch.seqLen(), ctx.rank(),
                ctx.adaptedProjections(), false, false);
        return forward(batch, ctx, buf, RopeTable.sequentialPositions(batch.batchSize(), batch.seqLen(), 0));
    }

    /** The logits (B·T, V) of a forward pass (for tests and scoring). */
    public float[] logits(Batch batch, AdapterContext ctx) {
        checkBatch(batch);
        ActivationBuffers buf = new ActivationBuffers(c, batch.batchSize(), batch.seqLen(), ctx.rank(),
                ctx.adaptedProjections(), false, false);
        forward(batch, ctx, buf, RopeTable.sequentialPositions(batch.batchSize(), batch.seqLen(), 0));
        return buf.logits;
    }

    /** Activation bytes of a training pass over B × T (what {@link #forwardBackward} allocates). */
    public static long activationBytes(LlamaConfig c, int batch, int length, AdapterContext ctx, boolean checkpointing) {
        return new ActivationBuffers(c, batch, length, ctx.rank(), ctx.adaptedProjections(), checkpointing, true).bytes();
    }

    private Loss forward(Batch batch, AdapterContext ctx, ActivationBuffers buf, int[] positions) {
        int rows = buf.rows;
        be.embedding().embeddingForward(buf.layerInputs[0], batch.inputs(), model.weights().embedding(), rows,
                c.vocabSize(), c.hiddenSize());
        KvStore own = ownKeys(buf);
        float[] dropScratch = buf.scratch == null ? null : buf.scratch.wide;
        for (int l = 0; l < c.numLayers(); l++) {
            block.forward(l, buf.layerInputs[l], buf.layerInputs[l + 1], buf.layer(l), rows, buf.length, positions, ctx,
                    own, dropScratch);
        }
        be.rmsnorm().rmsnormForward(buf.finalOut, buf.finalRstd, buf.layerInputs[c.numLayers()],
                model.weights().finalNorm(), rows, c.hiddenSize(), (float) c.rmsNormEps());
        be.matmul().forward(buf.logits, buf.finalOut, model.weights().lmHead(), rows, false);
        double sum = be.crossEntropy().crossEntropyForward(buf.losses, buf.logSumExp, buf.logits, batch.labels(), rows,
                c.vocabSize());
        return new Loss(sum, batch.targetTokens());
    }

    private void backward(Batch batch, AdapterContext ctx, Gradients g, ActivationBuffers buf, int[] positions,
                          float gradScale) {
        int rows = buf.rows;
        BackwardScratch s = buf.scratch;
        float[] dLogits = buf.logits;
        be.crossEntropy().crossEntropyBackward(dLogits, buf.logits, buf.logSumExp, batch.labels(), rows, c.vocabSize(),
                gradScale);
        be.matmul().backwardInput(s.dNorm, dLogits, model.weights().lmHead(), rows, false);
        float[] dHead = model.weights().tied() ? g.embedding() : g.lmHead();
        if (dHead != null) be.matmul().backwardWeight(dHead, dLogits, buf.finalOut, rows, c.vocabSize(), c.hiddenSize());
        float[] dx = new float[rows * c.hiddenSize()];
        be.rmsnorm().rmsnormBackward(dx, g.finalNorm(), s.dNorm, buf.layerInputs[c.numLayers()],
                model.weights().finalNorm(), buf.finalRstd, rows, c.hiddenSize(), false);
        KvStore own = ownKeys(buf);
        AttentionShape shape = AttentionShape.causal(buf.batch, buf.length, c.numHeads(), c.numKvHeads(), c.headDim());
        for (int l = c.numLayers() - 1; l >= 0; l--) {
            if (buf.checkpointing) {
                // recompute the block's activations from its saved input; the recomputed output is bit-identical to
                // the saved input of block l+1, whose gradient is already done, so it may be overwritten
                block.forward(l, buf.layerInputs[l], buf.layerInputs[l + 1], buf.layer(l), rows, buf.length, positions,
                        ctx, own, s.wide);
            }
            block.backward(l, buf.layerInputs[l], dx, buf.layer(l), rows, buf.length, positions, shape, ctx, g, s);
        }
        float[] dEmbedding = g.embedding();
        if (dEmbedding != null) {
            be.embedding().embeddingBackward(dEmbedding, dx, batch.inputs(), rows, c.vocabSize(), c.hiddenSize());
        }
    }

    private KvStore ownKeys(ActivationBuffers buf) {
        AttentionShape shape = AttentionShape.causal(buf.batch, buf.length, c.numHeads(), c.numKvHeads(), c.headDim());
        return (layer, k, v) -> new KvStore.Attended(k, v, shape);
    }

    private void checkBatch(Batch batch) {
        if (batch.seqLen() > c.contextLength()) {
            throw new IllegalArgumentException("batch of " + batch.seqLen() + " positions exceeds the model's context of "
                    + c.contextDescription() + ": truncate examples with --max-len");
        }
        for (int id : batch.inputs()) {
            if (id < 0 || id >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + c.vocabSize() + ")");
            }
        }
    }
}
