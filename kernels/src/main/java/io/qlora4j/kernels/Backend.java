package io.qlora4j.kernels;

import io.qlora4j.kernels.cpu.ReferenceAdamW;
import io.qlora4j.kernels.cpu.ReferenceAttention;
import io.qlora4j.kernels.cpu.ReferenceCrossEntropy;
import io.qlora4j.kernels.cpu.ReferenceEmbedding;
import io.qlora4j.kernels.cpu.ReferenceMatmul;
import io.qlora4j.kernels.cpu.ReferenceRmsNorm;
import io.qlora4j.kernels.cpu.ReferenceRope;
import io.qlora4j.kernels.cpu.ReferenceSwiGlu;
import io.qlora4j.kernels.cpu.VectorAdamW;
import io.qlora4j.kernels.cpu.VectorAttention;
import io.qlora4j.kernels.cpu.VectorCrossEntropy;
import io.qlora4j.kernels.cpu.VectorMatmul;
import io.qlora4j.kernels.cpu.VectorRmsNorm;
import io.qlora4j.kernels.cpu.VectorSwiGlu;
import jdk.incubator.vector.FloatVector;

/**
 * One implementation of every kernel family: what the model and the optimizer are handed, so that the CPU backend
 * (and later a CUDA one) can be swapped as a unit. {@link #reference()} is the plain-loop oracle every test compares
 * against; {@link #cpu()} is the fastest CPU set this machine supports. Which is which is said by
 * {@link #description()} (also {@link #toString()}), so a fallback is visible in logs and benchmark output.
 *
 * @param description which implementations these are, e.g. "cpu: Vector API 512-bit (...)"
 */
public record Backend(String description, Matmul matmul, RmsNorm rmsnorm, Rope rope, Attention attention,
                      SwiGlu swiglu, CrossEntropy crossEntropy, Embedding embedding, AdamW adamw) {

    private static final System.Logger LOG = System.getLogger(Backend.class.getName());

    /** True when the CPU has 512-bit vectors, which the Vector API kernels are written for. */
    public static boolean vectorSupported() {
        return VectorMatmul.isSupported();
    }

    /** The plain single-loop implementations (attention split over threads): the spec and test oracle. */
    public static Backend reference() {
        return new Backend("reference: plain loops (all families)", ReferenceMatmul.INSTANCE, ReferenceRmsNorm.INSTANCE,
                ReferenceRope.INSTANCE, ReferenceAttention.INSTANCE, ReferenceSwiGlu.INSTANCE,
                ReferenceCrossEntropy.INSTANCE, ReferenceEmbedding.INSTANCE, ReferenceAdamW.INSTANCE);
    }

    /**
     * The Vector API kernels where the CPU has 512-bit vectors (RoPE and embedding are memory-bound copies and stay
     * plain loops), else the reference set, logged once per call as a warning.
     */
    public static Backend cpu() {
        if (!vectorSupported()) {
            String why = "cpu: reference loops (no 512-bit vectors: preferred vector size is "
                    + FloatVector.SPECIES_PREFERRED.vectorBitSize() + " bits)";
            LOG.log(System.Logger.Level.WARNING, "Vector API kernels unavailable, falling back: " + why);
            Backend r = reference();
            return new Backend(why, r.matmul(), r.rmsnorm(), r.rope(), r.attention(), r.swiglu(), r.crossEntropy(),
                    r.embedding(), r.adamw());
        }
        return new Backend("cpu: Vector API 512-bit (matmul, rmsnorm, attention, swiglu, cross-entropy, adamw);"
                + " plain loops (rope, embedding)", VectorMatmul.INSTANCE, VectorRmsNorm.INSTANCE, ReferenceRope.INSTANCE,
                VectorAttention.INSTANCE, VectorSwiGlu.INSTANCE, VectorCrossEntropy.INSTANCE,
                ReferenceEmbedding.INSTANCE, VectorAdamW.INSTANCE);
    }

    @Override
    public String toString() {
        return description;
    }
}
