package io.qlora4j.model.train;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.memory.AllocationResult;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.Lease;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.OutOfDeviceMemory;
import io.qlora4j.memory.optim.AdamWOptions;
import io.qlora4j.memory.optim.CreationRefused;
import io.qlora4j.memory.optim.OptimizerCreation;
import io.qlora4j.memory.optim.PagedAdamW;
import io.qlora4j.memory.optim.ParamSpec;
import io.qlora4j.memory.optim.StepRefused;
import io.qlora4j.memory.optim.StepResult;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Gradients;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.DropoutMask;
import io.qlora4j.model.lora.LoraAdapters;

import java.util.List;

/**
 * One optimizer step of fine-tuning: forward and backward over each micro-batch (gradients accumulate), the loss
 * normalised by the target tokens of the whole step (so k micro-batches of b equal one batch of k·b), global gradient-norm
 * clipping (the paper's max norm 0.3), then AdamW (bitsandbytes' update, state in the paging subsystem) at the
 * schedule's learning rate.
 *
 * <p>Every allocation of the step is accounted with the {@link MemoryManager}: the weights and gradients once, the
 * activations of each micro-batch before it runs. When the activations do not fit, the manager pages optimizer state
 * out; when they cannot fit even so, the step fails with {@link DeviceOutOfMemoryException} before changing anything.
 */
public final class TrainStep implements AutoCloseable {

    /** The owner name of the optimizer's paged state buffer in the memory manager. */
    public static final String OPTIMIZER_OWNER = "adamw";

    /**
     * @param gradientCheckpointing keep only block inputs and recompute the rest in backward
     * @param maxGradNorm           clip the global gradient norm to this (≤ 0: no clipping)
     * @param schedule              learning rate per step
     * @param dropoutSeed           seed of the LoRA dropout masks
     */
    public record Options(boolean gradientCheckpointing, float maxGradNorm, LrSchedule schedule, long dropoutSeed) {
    }

    /** What a step did. */
    public record Result(int step, double lossSum, int targetTokens, double gradNorm, float lr, boolean clipped,
                         long activationBytes, double seconds) {
        public double loss() {
            return lossSum / targetTokens;
        }
    }

    private final LlamaModel model;
    private final Transformer transformer;
    private final LoraAdapters adapters;         // null in full fine-tuning
    private final FullFineTune full;             // null in LoRA
    private final List<TrainableTensor> trainables;
    private final MemoryManager memory;
    private final PagedAdamW optimizer;
    private final Options options;
    private final Lease weightsLease;
    private final Lease gradientsLease;
    private int completed;

    private TrainStep(LlamaModel model, LoraAdapters adapters, FullFineTune full, MemoryManager memory,
                      AdamWOptions optimizerOptions, Options options) {
        this.model = model;
        this.transformer = new Transformer(model);
        this.adapters = adapters;
        this.full = full;
        this.trainables = adapters != null ? adapters.trainables() : full.trainables();
        this.memory = memory;
        this.options = options;
        long trainableBytes = 4L * trainables.stream().mapToLong(t -> t.value().length).sum();
        long weights = model.weights().storageBytes() + (adapters != null ? trainableBytes : 0);
        this.weightsLease = lease(Category.WEIGHTS, weights, "model weights");
        this.gradientsLease = lease(Category.GRADIENTS, trainableBytes, "gradients");
        List<ParamSpec> specs = trainables.stream().map(t -> new ParamSpec(t.name(), t.value().length)).toList();
        OptimizerCreation created = PagedAdamW.create(memory, OPTIMIZER_OWNER, specs, optimizerOptions, model.backend().adamw());
        if (created instanceof CreationRefused refused) {
            close();
            throw new DeviceOutOfMemoryException("optimizer state does not fit: " + refused);
        }
        this.optimizer = (PagedAdamW) created;
        this.completed = (int) optimizer.steps();
    }

    /** QLoRA / LoRA: only the adapters train; the base (4-bit or fp32) is frozen. */
    public static TrainStep lora(LlamaModel model, LoraAdapters adapters, MemoryManager memory, AdamWOptions optimizer,
                                 Options options) {
        return new TrainStep(model, adapters, null, memory, optimizer, options);
    }

    /** Full fine-tuning of an fp32 model: every weight trains. */
    public static TrainStep full(LlamaModel model, MemoryManager memory, AdamWOptions optimizer, Options options) {
        return new TrainStep(model, null, new FullFineTune(model), memory, optimizer, options);
    }

    /** Optimizer steps completed (restored from a checkpoint's optimizer state). */
    public int completedSteps() {
        return completed;
    }

    /** Restores the optimizer (and the step count) from a checkpoint's exported state. */
    public void restore(io.qlora4j.memory.optim.OptimizerState state) {
        optimizer.importState(state);
        completed = Math.toIntExact(state.step());
    }

    public List<TrainableTensor> trainables() {
        return trainables;
    }

    public PagedAdamW optimizer() {
        return optimizer;
    }

    public LlamaModel model() {
        return model;
    }

    /** The adapters (LoRA), or null in full fine-tuning. */
    public LoraAdapters adapters() {
        return adapters;
    }

    /** Activation bytes a micro-batch of B × T needs. */
    public long activationBytes(int batch, int length) {
        return Transformer.activationBytes(model.config(), batch, length, context(new long[batch], 0), options.gradientCheckpointing());
    }

    /** Device bytes the activations of a step need: its largest micro-batch (they run one after another). */
    public long activationBytes(List<Batch> microBatches) {
        long max = 0;
        for (Batch b : microBatches) max = Math.max(max, activationBytes(b.batchSize(), b.seqLen()));
        return max;
    }

    /** The summed loss, token count and global gradient norm of a step's forward and backward passes. */
    public record Gradient(int step, double lossSum, int targetTokens, double gradNorm, long activationBytes, long startNanos) {
    }

    /**
     * Runs one optimizer step over {@code microBatches}, accounting its activations with the memory manager itself:
     * lease → {@link #computeGradients} → release (which lets paged-out optimizer state come back) → {@link #applyUpdate}.
     */
    public Result step(List<Batch> microBatches) {
        Lease lease = lease(Category.ACTIVATIONS, activationBytes(microBatches), "activations of step " + (completed + 1)
                + " (" + microBatches.size() + " micro-batches, longest " + microBatches.stream().mapToInt(Batch::seqLen).max().orElse(0)
                + " tokens)");
        Gradient g;
        try {
            g = computeGradients(microBatches);
        } finally {
            memory.release(lease);
        }
        return applyUpdate(g);
    }

    /**
     * Forward and backward over every micro-batch, gradients accumulated and normalised by the step's target tokens.
     * The caller holds device room for {@link #activationBytes(List)} (a lease from the memory manager or its actor).
     *
     * @throws NonFiniteGradientException when the gradient is NaN/Inf (parameters untouched)
     */
    public Gradient computeGradients(List<Batch> microBatches) {
        if (microBatches.isEmpty()) throw new IllegalArgumentException("a step needs at least one micro-batch");
        return computeGradients(microBatches, microBatches.stream().mapToInt(Batch::targetTokens).sum());
    }

    /**
     * This process's share of a data-parallel step: forward and backward over {@code share} (possibly none), the
     * gradients normalised by {@code stepTargetTokens}, the target tokens of the whole step over all replicas, so that
     * the sum of the replicas' gradients is the gradient of the whole step ({@link #withSummedGradients}).
     *
     * @throws NonFiniteGradientException when the gradient is NaN/Inf (parameters untouched)
     */
    public Gradient computeGradients(List<Batch> share, int stepTargetTokens) {
        long start = System.nanoTime();
        if (stepTargetTokens <= 0) throw new IllegalArgumentException("the micro-batches of step " + (completed + 1) + " have no target tokens");
        for (TrainableTensor t : trainables) t.zeroGrad();
        Gradients grads = full != null ? full : Gradients.FROZEN;
        float scale = 1f / stepTargetTokens;
        double loss = 0;
        for (Batch b : share) {
            loss += transformer.forwardBackward(b, context(b.offsets(), completed + 1), grads,
                    options.gradientCheckpointing(), scale).sum();
        }
        double norm = gradientNorm();
        if (!Double.isFinite(norm)) {
            throw new NonFiniteGradientException("step " + (completed + 1) + ": the gradient norm is " + norm
                    + " (loss " + loss / stepTargetTokens + "): the step was not applied; lower the learning rate or check the data");
        }
        return new Gradient(completed + 1, loss, stepTargetTokens, norm, activationBytes(share), start);
    }

    /** Elements of all trainables' gradients together: the length of {@link #copyGradientsTo}'s vector. */
    public int gradientElements() {
        long n = trainables.stream().mapToLong(t -> t.value().length).sum();
        return Math.toIntExact(n);
    }

    /** Copies every trainable's gradient, in {@link #trainables()} order, into {@code flat} (length {@link #gradientElements()}). */
    public void copyGradientsTo(float[] flat) {
        int at = 0;
        for (TrainableTensor t : trainables) {
            System.arraycopy(t.grad(), 0, flat, at, t.grad().length);
            at += t.grad().length;
        }
    }

    /**
     * Replaces the gradients with {@code summed}, the sum of every replica's {@link #computeGradients(List, int)} (in
     * {@link #copyGradientsTo} layout), and returns {@code local} with the norm of the summed gradient, which is what
     * {@link #applyUpdate} clips with. {@code lossSum} stays this replica's own.
     */
    public Gradient withSummedGradients(Gradient local, float[] summed) {
        if (summed.length != gradientElements()) {
            throw new IllegalArgumentException("summed gradient of " + summed.length + " elements, expected " + gradientElements());
        }
        int at = 0;
        for (TrainableTensor t : trainables) {
            System.arraycopy(summed, at, t.grad(), 0, t.grad().length);
            at += t.grad().length;
        }
        double norm = gradientNorm();
        if (!Double.isFinite(norm)) {
            throw new NonFiniteGradientException("step " + local.step() + ": the summed gradient norm is " + norm
                    + ": the step was not applied; lower the learning rate or check the data");
        }
        return new Gradient(local.step(), local.lossSum(), local.targetTokens(), norm, local.activationBytes(), local.startNanos());
    }

    private double gradientNorm() {
        double sumSq = 0;
        AdamW kernels = model.backend().adamw();
        for (TrainableTensor t : trainables) sumSq += kernels.sumOfSquares(t.grad(), 0, t.grad().length);
        return Math.sqrt(sumSq);
    }

    /** Clips the global gradient norm and applies AdamW at the schedule's learning rate. */
    public Result applyUpdate(Gradient g) {
        if (g.step() != completed + 1) {
            throw new IllegalStateException("gradient of step " + g.step() + " applied after " + completed + " completed steps");
        }
        boolean clip = options.maxGradNorm() > 0 && g.gradNorm() > options.maxGradNorm();
        // torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied only when < 1
        float gradScale = clip ? (float) (options.maxGradNorm() / (g.gradNorm() + 1e-6)) : 1f;
        float lr = options.schedule().lr(completed);
        StepResult r = optimizer.step(lr, gradScale, trainables.stream().map(TrainableTensor::value).toList(),
                trainables.stream().map(TrainableTensor::grad).toList());
        if (r instanceof StepRefused refused) throw new DeviceOutOfMemoryException(refused.toString());
        completed++;
        return new Result(completed, g.lossSum(), g.targetTokens(), g.gradNorm(), lr, clip, g.activationBytes(),
                (System.nanoTime() - g.startNanos()) * 1e-9);
    }

    /** Held-out loss over batches (no dropout, no gradients). */
    public Transformer.Loss evaluate(List<Batch> batches) {
        double sum = 0;
        int tokens = 0;
        for (Batch b : batches) {
            Transformer.Loss l = transformer.forwardLoss(b, adapters == null ? AdapterContext.NONE : AdapterContext.inference(adapters));
            sum += l.sum();
            tokens += l.tokens();
        }
        return new Transformer.Loss(sum, tokens);
    }

    private AdapterContext context(long[] offsets, long step) {
        if (adapters == null) return AdapterContext.NONE;
        DropoutMask drop = adapters.config().dropout() > 0 ? new DropoutMask(adapters.config().dropout(), options.dropoutSeed())
                : DropoutMask.NONE;
        return new AdapterContext(adapters, drop, step, offsets);
    }

    private Lease lease(Category category, long bytes, String label) {
        AllocationResult r = memory.allocate(category, bytes, label);
        if (r instanceof Lease l) return l;
        throw new DeviceOutOfMemoryException(((OutOfDeviceMemory) r).message());
    }

    /** Releases the weight and gradient accounting and the optimizer state (the manager itself belongs to the caller). */
    @Override
    public void close() {
        if (optimizer != null) optimizer.close();
        if (gradientsLease != null) memory.release(gradientsLease);
        if (weightsLease != null) memory.release(weightsLease);
    }
}
