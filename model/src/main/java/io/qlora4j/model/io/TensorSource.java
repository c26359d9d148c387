package io.qlora4j.model.io;

import io.qlora4j.kernels.RopeLayout;
import java.lang.foreign.MemorySegment;
import java.util.SequencedSet;

/**
 * Read access, tensor by tensor, to a checkpoint on disk: one safetensors file ({@link SafetensorsFile}), a sharded set
 * ({@link ShardedSafetensors}) or a llama2.c file ({@link Llama2cCheckpoint}). Model loading and quantization stream
 * through this interface, so implementations memory-map and never read a whole file into the heap; only
 * {@link #readFloats} copies, and only the one tensor asked for.
 *
 * <p>Not a model description: it does not say how tensors combine (config.json does), only, through
 * {@link #ropeLayout()}, which RoPE row order its q/k projections use, because that depends on where they came from.
 *
 * <p>Instances are safe to read from several threads; {@link #close()} unmaps, after which every segment handed out is
 * invalid.
 */
public interface TensorSource extends AutoCloseable {
    /**
     * Tensor names in file order: the order their bytes lie on disk, so that reading in this order is sequential I/O
     * (for a sharded set: grouped by shard).
     */
    SequencedSet<String> names();

    /**
     * Dtype, shape and location of tensor {@code name}.
     *
     * @throws CheckpointException when there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * The tensor's bytes (little-endian, C order) as a read-only slice of the mapping; no copy.
     *
     * @throws CheckpointException when there is no such tensor
     */
    MemorySegment bytes(String name);

    /**
     * A fresh fp32 copy of a floating-point tensor (F32, F16 and BF16 exactly; F64 rounded to nearest).
     *
     * @throws IllegalArgumentException when the dtype is not floating point or the tensor has more elements than a Java
     *                                  array holds (use {@link #bytes} then)
     * @throws CheckpointException      when there is no such tensor
     */
    float[] readFloats(String name);

    /**
     * The RoPE convention the rows of this source's {@code q_proj}/{@code k_proj} weights follow. Hugging Face
     * checkpoints use {@link RopeLayout#HALF_SPLIT}; sources converted from elsewhere override this.
     */
    default RopeLayout ropeLayout() {
        return RopeLayout.HALF_SPLIT;
    }

    /** Unmaps the file(s). Idempotent. */
    @Override
    void close();
}
